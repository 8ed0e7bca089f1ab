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
      // Signals are caught from here on: one that arrives while the server is still starting (it
      // already listens) stops it gracefully as soon as it is up, instead of killing it mid-start.
      const signals = catchSignals();
      // Loaded here, not at the top: every other command starts faster without the server's modules.
      const { startShepherd, StartupError } = await import("../../app.js");
      let running: RunningShepherd;
      try {
        running = await startShepherd({ config, role: options.role as ServerRole });
      } catch (error) {
        signals.release();
        if (error instanceof StartupError) throw new CliError(error.message);
        throw error;
      }
      await signals.stopOnSignal(running);
    });
}

/** SIGINT/SIGTERM handlers installed at once; the first signal stops the server once it runs. */
function catchSignals(): { stopOnSignal(running: RunningShepherd): Promise<void>; release(): void } {
  let received: NodeJS.Signals | null = null;
  let onFirst: ((signal: NodeJS.Signals) => void) | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      process.stderr.write(`shepherd: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    received = signal;
    onFirst?.(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
    stopOnSignal(running) {
      return new Promise((resolve) => {
        onFirst = (signal) => shutDown(running, signal, resolve);
        if (received) onFirst(received);
      });
    },
  };
}

function shutDown(running: RunningShepherd, signal: NodeJS.Signals, resolve: () => void): void {
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
}
