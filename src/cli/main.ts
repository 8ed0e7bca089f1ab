import { CommanderError } from "commander";
import { CliError } from "./cli-error.js";
import { buildProgram } from "./program.js";

/**
 * Runs the CLI. User errors print one line (`shepherd: …`) and exit non-zero; only an
 * unexpected failure prints a stack, and it says so.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed usage or the message already; help and --version exit 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      process.stderr.write(`shepherd: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(
      `shepherd: unexpected error (a bug; please report it):\n${(error as Error).stack ?? String(error)}\n`,
    );
    return 70;
  }
}

// A reader that stops early (`shepherd … | head`) closes the pipe: that ends the output quietly,
// as it does for any Unix tool, instead of an unhandled EPIPE stack.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const code = await main(process.argv);
process.exitCode = code;
