import type { Command } from "commander";
import { PRIORITIES } from "../../domain/reaction-config.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { ago, shortTime, type Output } from "../output.js";
import { fetchAllPages } from "../pages.js";

interface DeliveryView {
  id: string;
  target: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
}

interface NotificationView {
  id: string;
  kind: string;
  priority: string;
  title: string;
  body: string;
  repoId: string | null;
  prId: string | null;
  sessionId: string | null;
  state: "open" | "acknowledged";
  createdAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  deliveries: DeliveryView[];
}

function age(iso: string): string {
  return ago(Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000)));
}

/** `FAILED webhook:ops` when a delivery failed for good, else `pending` while one is under way. */
function deliveryMarker(notification: NotificationView): string {
  const failed = notification.deliveries.filter((delivery) => delivery.state === "failed");
  if (failed.length > 0) return `FAILED ${failed.map((delivery) => delivery.target).join(",")}`;
  if (notification.deliveries.some((delivery) => delivery.state === "pending")) return "pending";
  return "-";
}

function printNotification(output: Output, n: NotificationView): void {
  output.print(`${n.id}  ${n.title}`);
  const rows: [string, string][] = [
    ["priority", n.priority],
    ["kind", n.kind],
    [
      "state",
      n.state === "open"
        ? "open"
        : `acknowledged ${shortTime(n.acknowledgedAt)} by ${n.acknowledgedBy ?? "(unknown)"}`,
    ],
    ["created", `${shortTime(n.createdAt)} (${age(n.createdAt)} ago)`],
    ["repo", n.repoId ?? "-"],
    ["pull request", n.prId ?? "-"],
    ["session", n.sessionId ?? "-"],
  ];
  for (const [key, value] of rows) output.print(`  ${key.padEnd(13)} ${value}`);
  if (n.body.trim() !== "") {
    output.print("");
    for (const line of n.body.trimEnd().split("\n")) output.print(`  ${line}`);
  }
  output.print("");
  output.print("  deliveries:");
  if (n.deliveries.length === 0) {
    output.print("    (no targets routed for this priority)");
    return;
  }
  output.table(
    ["    TARGET", "STATE", "ATTEMPTS", "DELIVERED", "LAST ERROR"],
    n.deliveries.map((delivery) => [
      `    ${delivery.target}`,
      delivery.state,
      String(delivery.attempts),
      shortTime(delivery.deliveredAt),
      delivery.lastError ?? "-",
    ]),
  );
}

interface LsOptions {
  all?: boolean;
  priority?: string;
}

/** `shepherd notifications [ls] | show <id> | ack <id>` (SPEC C5: the inbox). */
export function registerNotifications(program: Command): void {
  const notifications = program
    .command("notifications")
    .description("the notifications inbox: list, show and acknowledge");

  notifications
    .command("ls", { isDefault: true })
    .description("list open notifications, newest first (the default)")
    .option("--all", "acknowledged ones too")
    .option("--priority <priority>", PRIORITIES.join(" | "))
    .action(async (options: LsOptions, command: Command) => {
      if (options.priority !== undefined && !(PRIORITIES as readonly string[]).includes(options.priority)) {
        throw new CliError(
          `--priority must be one of ${PRIORITIES.join(", ")}; got "${options.priority}"`,
          2,
        );
      }
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const query = new URLSearchParams({ state: options.all ? "all" : "open" });
      if (options.priority) query.set("priority", options.priority);
      const found = await fetchAllPages<NotificationView>(
        client,
        `/api/v1/notifications?${query.toString()}`,
      );
      if (output.json) {
        output.printJson(found);
        return;
      }
      if (found.length === 0) {
        output.print(options.all ? "No notifications." : "No open notifications.");
        return;
      }
      const headers = ["ID", "PRIORITY", "AGE", ...(options.all ? ["STATE"] : []), "DELIVERY", "TITLE"];
      output.table(
        headers,
        found.map((n) => [
          n.id,
          n.priority,
          age(n.createdAt),
          ...(options.all ? [n.state] : []),
          deliveryMarker(n),
          n.title.length > 60 ? `${n.title.slice(0, 59)}…` : n.title,
        ]),
      );
    });

  notifications
    .command("show <id>")
    .description("show a notification and how each target received it")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const found = await client.get<NotificationView>(`/api/v1/notifications/${encodeURIComponent(id)}`);
      if (output.json) output.printJson(found);
      else printNotification(output, found);
    });

  notifications
    .command("ack <id>")
    .description("acknowledge a notification (it leaves the open list)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const acked = await client.post<NotificationView>(
        `/api/v1/notifications/${encodeURIComponent(id)}/acknowledge`,
        undefined,
      );
      if (output.json) output.printJson(acked);
      else
        output.print(
          `Acknowledged ${acked.id} (${shortTime(acked.acknowledgedAt)} by ${acked.acknowledgedBy ?? "(unknown)"}).`,
        );
    });
}
