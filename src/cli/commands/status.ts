import type { Command } from "commander";
import type { Readiness, StatusReport } from "../../services/system-status.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { ago } from "../output.js";

interface ReadyBody {
  status: "ready" | "unready";
  checks: Readiness["checks"];
}

/** `shepherd status`: health, versions and queue depth of a running server. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("show whether the server is ready, its versions and queue depth")
    .action(async (_options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const ready = await client.probe<ReadyBody>("/readyz");
      const status = await client.get<StatusReport>("/api/v1/status");
      if (output.json) {
        output.printJson({ url: client.baseUrl, ready: ready.body, status });
      } else {
        const check = (name: string): string => {
          const result = ready.body.checks[name];
          return result?.ok ? "ok" : `FAILING (${result?.error ?? "no answer"})`;
        };
        const depth = status.queue.depth;
        const total = (key: "queued" | "active" | "failed"): number =>
          depth.reduce((sum, d) => sum + d[key], 0);
        output.print(`Shepherd ${status.version} at ${client.baseUrl} — ${ready.body.status}`);
        output.table(null, [
          ["role", `${status.role} (up ${ago(status.uptimeSeconds)})`],
          ["node", status.node],
          [
            "database",
            `${status.database.location} (${status.database.migration ?? "unmigrated"}) ${check("database")}`,
          ],
          [
            "queue",
            `${status.queue.kind} ${check("queue")} — ${total("queued")} queued, ${total("active")} active, ${total("failed")} failed`,
          ],
          ...depth.map((d) => [`  ${d.queue}`, `${d.queued} queued, ${d.active} active, ${d.failed} failed`]),
          ["events", `head ${status.events.head}`],
        ]);
      }
      if (ready.status !== 200) throw new CliError("the server is not ready (see above)");
    });
}
