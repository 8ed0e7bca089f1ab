import type { Command } from "commander";
import type { RunningShepherd } from "../../app.js";
import { SERVER_ROLES, type ServerRole } from "../../config/config-schema.js";
import type { ConfigOverride } from "../../config/load-config.js";
import { CliError } from "../cli-error.js";
import { loadCliConfig, type GlobalOptions } from "../cli-context.js";

const SHUTDOWN_DEADLINE_MS = 10_000;

interface ServeOptions {
  role: string;
  port?: string;
  host?: string;
}

function portValue(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  return /^\d+$/.test(text) ? Number(text) : text;
}

/** `shepherd serve`: runs the server until SIGINT/SIGTERM, then stops within 10 seconds. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the server (API, dashboard and workers) in the foreground")
    .option("--role <role>", `which part to run: ${SERVER_ROLES.join(" | ")}`, "all")
    .option("--port <port>", "listen port (default 4780; 0 picks a free port)")
    .option("--host <host>", "listen address (default 127.0.0.1)")
    .action(async (options: ServeOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (!(SERVER_ROLES as readonly string[]).includes(options.role)) {
        throw new CliError(`--role must be one of ${SERVER_ROLES.join(", ")}; got "${options.role}"`, 2);
      }
      const overrides: ConfigOverride[] = [
        { path: ["server", "port"], value: portValue(options.port), flag: "--port" },
        { path: ["server", "host"], value: options.host, flag: "--host" },
      ];
      const config = await loadCliConfig(globals.config, overrides);
      // Loaded here, not at the top: every other command starts faster without the server's modules.
      const { startShepherd, StartupError } = await import("../../app.js");
      let running: RunningShepherd;
      try {
        running = await startShepherd({ config, role: options.role as ServerRole });
      } catch (error) {
        if (error instanceof StartupError) throw new CliError(error.message);
        throw error;
      }
      await waitForSignal(running);
    });
}

function waitForSignal(running: RunningShepherd): Promise<void> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        process.stderr.write(`shepherd: second ${signal}, exiting now\n`);
        process.exit(1);
      }
      signalled = true;
      process.stderr.write(`shepherd: ${signal} received, shutting down…\n`);
      const deadline = setTimeout(() => {
        process.stderr.write("shepherd: shutdown took longer than 10 s; exiting anyway\n");
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      deadline.unref();
      running.stop().then(
        () => {
          clearTimeout(deadline);
          // If some handle still holds the event loop open, do not hang on it.
          setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
          resolve();
        },
        (error: unknown) => {
          process.stderr.write(`shepherd: shutdown failed: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
