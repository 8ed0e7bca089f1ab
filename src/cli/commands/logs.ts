import type { Command } from "commander";
import type { EventView } from "../../services/event-envelope.js";
import type { ApiClient } from "../api-client.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import type { Output } from "../output.js";

interface LogsOptions {
  follow?: boolean;
  session?: string;
  since?: string;
  limit: string;
}

interface Page<T> {
  data: T[];
}

const PAYLOAD_WIDTH = 160;
const RETRY_MAX_MS = 10_000;

function printEvent(output: Output, event: EventView): void {
  if (output.json) {
    output.print(JSON.stringify(event));
    return;
  }
  const payload = JSON.stringify(event.payload);
  const shown = payload.length > PAYLOAD_WIDTH ? `${payload.slice(0, PAYLOAD_WIDTH - 1)}…` : payload;
  const session = event.sessionId ? ` [${event.sessionId}]` : "";
  output.print(`#${event.seq}  ${event.ts}  ${event.kind}${session}  ${shown}`);
}

function nonNegativeInteger(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} takes a non-negative integer; got "${value}"`, 2);
  return Number(value);
}

/** `shepherd logs [--follow]`: the latest events, then (with --follow) the live stream. */
export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("print recent events; --follow keeps streaming (resuming after disconnects)")
    .option("-f, --follow", "keep streaming new events until interrupted")
    .option("--session <id>", "only events of this session")
    .option("--since <seq>", "start after this event seq instead of showing the latest events")
    .option("-n, --limit <n>", "how many recent events to show first", "20")
    .action(async (options: LogsOptions, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const limit = nonNegativeInteger(options.limit, "--limit");
      if (limit < 1 || limit > 200) throw new CliError("--limit must be between 1 and 200", 2);
      const filter = options.session ? `&session=${encodeURIComponent(options.session)}` : "";
      let last = options.since === undefined ? undefined : nonNegativeInteger(options.since, "--since");

      if (last === undefined || !options.follow) {
        const after = last === undefined ? "" : `&since=${last}`;
        const page = await client.get<Page<EventView>>(`/api/v1/events?limit=${limit}${filter}${after}`);
        const events = [...page.data].reverse();
        for (const event of events) printEvent(output, event);
        last = events.at(-1)?.seq ?? last ?? 0;
      }
      if (options.follow) await follow(client, output, last, filter);
    });
}

async function follow(client: ApiClient, output: Output, since: number, filter: string): Promise<void> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let last = since;
  let retryMs = 500;
  try {
    while (!controller.signal.aborted) {
      try {
        const path = `/api/v1/events?since=${last}${filter}`;
        for await (const message of client.stream(path, String(last), controller.signal)) {
          const event = JSON.parse(message.data) as EventView;
          if (event.seq <= last) continue;
          printEvent(output, event);
          last = event.seq;
          retryMs = 500;
        }
        if (!controller.signal.aborted)
          process.stderr.write("shepherd: the server ended the stream; reconnecting…\n");
      } catch (error) {
        if (controller.signal.aborted) break;
        // A refused token or a bad filter will not get better by retrying.
        if (
          error instanceof CliError &&
          /\[(UNAUTHENTICATED|FORBIDDEN|VALIDATION_ERROR)\]/.test(error.message)
        ) {
          throw error;
        }
        process.stderr.write(`shepherd: ${(error as Error).message}; retrying in ${retryMs / 1000}s\n`);
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
