import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SecretRedactor } from "../../src/domain/redact.js";
import { createLogger } from "../../src/observability/logger.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { SqliteJobQueue } from "../../src/queue/sqlite-job-queue.js";
import { EventHub } from "../../src/services/event-hub.js";
import { EventLog } from "../../src/services/event-log.js";
import { NotificationService } from "../../src/services/notification-service.js";
import type { NotificationRequest } from "../../src/services/notifier.js";
import { SecretReader } from "../../src/services/secrets.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { LocalEventSignal } from "../../src/store/event-signal.js";
import { EventStore } from "../../src/store/event-store.js";
import { NotificationStore } from "../../src/store/notification-store.js";
import {
  cleanupAll,
  runCli,
  startServer,
  tempDir,
  type CliResult,
  type ShepherdServer,
  type ShepherdTarget,
} from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

/**
 * End to end, SPEC C5's inbox through the CLI: a real `shepherd serve` (SQLite) whose worker
 * delivers webhooks to a local HTTP server, notifications raised the way the reactions engine
 * raises them (a NotificationService on the same database, here in the test process), and the
 * real `shepherd notifications …` commands (compiled dist/, run as processes).
 */

const STACK_LINE = /^\s+at /m;
const NOTIFICATION_ID = /ntf_[0-9a-z]{26}/;

let hooks: WebhookReceiver;
let server: ShepherdServer;
let cli: ShepherdTarget;
let database: Database;
let notifier: NotificationService;

function show(result: CliResult): string {
  return `exit=${result.code} signal=${result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

function shepherd(...args: string[]): Promise<CliResult> {
  return runCli(args, cli, { timeoutMs: 60_000 });
}

function expectSuccess(result: CliResult): void {
  expect(result.code, show(result)).toBe(0);
  expect(result.stderr, show(result)).not.toMatch(STACK_LINE);
}

function expectUserError(result: CliResult, exit: number | "non-zero", message: RegExp): void {
  const context = show(result);
  if (exit === "non-zero") expect(result.code, context).not.toBe(0);
  else expect(result.code, context).toBe(exit);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^shepherd: /);
  expect(lines[0], context).toMatch(message);
  expect(result.stderr + result.stdout, context).not.toMatch(STACK_LINE);
}

/** Data rows of a CLI table (header checked, then dropped), split on runs of 2+ spaces. */
function rowsOf(stdout: string, header: RegExp): string[][] {
  const lines = stdout.trimEnd().split("\n");
  expect(lines[0], stdout).toMatch(header);
  return lines.slice(1).map((line) => line.split(/ {2,}/));
}

async function notify(
  request: Partial<NotificationRequest> & Pick<NotificationRequest, "priority" | "title">,
) {
  return notifier.notify({ dedupKey: null, kind: "ci_failed", body: "", ...request });
}

beforeAll(async () => {
  hooks = await new WebhookReceiver().start();
  hooks.script("gone", [{ status: 404, body: "no_service" }]);
  const workDir = await tempDir("shepherd-notifications-cli-");
  const configFile = path.join(workDir, "shepherd.yaml");
  await writeFile(
    configFile,
    [
      "notifications:",
      "  routes:",
      "    urgent: [dashboard, webhook:ops]",
      "    action: [dashboard, webhook:ops]",
      "    info: [dashboard]",
      "  webhooks:",
      `    ops: { url: "${hooks.baseUrl}/ops", format: json }`,
      "",
    ].join("\n"),
  );
  server = await startServer({ env: { SHEPHERD_CONFIG: configFile } });
  cli = { ...server.target, cwd: workDir };

  // The reactions engine's side: another process on the same (SQLite, WAL) database.
  const file = path.join(server.home, "shepherd.db");
  database = await openDatabase({ kind: "sqlite", path: file, url: `sqlite:${file}` });
  const redactor = new SecretRedactor();
  const eventStore = new EventStore(database);
  const signal = new LocalEventSignal();
  notifier = new NotificationService({
    store: new NotificationStore(database.db),
    events: new EventLog({ store: eventStore, signal, hub: new EventHub(eventStore, signal), redactor }),
    // Enqueue only: the server's worker runs the jobs.
    queue: new SqliteJobQueue(database.db),
    secrets: new SecretReader(server.home, redactor),
    redactor,
    config: {
      routes: {
        urgent: ["dashboard", "webhook:ops"],
        action: ["dashboard", "webhook:ops"],
        warning: ["dashboard"],
        info: ["dashboard"],
      },
      webhooks: { ops: { url: `${hooks.baseUrl}/ops`, urlRef: null, format: "json" } },
    },
    publicUrl: null,
    metrics: createMetrics(),
    logger: createLogger({ level: "silent", redactor }),
  });
});

afterAll(async () => {
  await database?.close();
  await cleanupAll();
  await hooks?.stop();
});

describe("shepherd notifications", () => {
  test("ls (table, --priority, --json, --all), show, ack, and one-line errors", async () => {
    const empty = await shepherd("notifications");
    expectSuccess(empty);
    expect(empty.stdout).toBe("No open notifications.\n");

    const info = await notify({ priority: "info", title: "PR #3 merged" });
    const failing = await notify({
      priority: "urgent",
      title: "Agent stuck for 10m scenario:gone",
      body: "session sess-9 has been silent\nsince 10:00",
      sessionId: "sess-9",
    });
    const fine = await notify({ priority: "action", title: "PR #4 approved and green" });

    // The server's worker delivers the webhooks: one is refused for good (404), one gets through.
    await waitFor(
      async () => {
        const failed = await notifier.get(failing.id);
        const delivered = await notifier.get(fine.id);
        return failed.deliveries[1]?.state === "failed" && delivered.deliveries[1]?.state === "delivered";
      },
      { timeoutMs: 30_000, intervalMs: 100, message: "webhook deliveries never settled" },
    );
    expect(hooks.requestsFor("gone")).toHaveLength(1);

    const ls = await shepherd("notifications");
    expectSuccess(ls);
    const rows = rowsOf(ls.stdout, /^ID\s+PRIORITY\s+AGE\s+DELIVERY\s+TITLE$/);
    expect(rows.map((row) => [row[0], row[1], row[3], row[4]])).toEqual([
      [fine.id, "action", "-", "PR #4 approved and green"],
      [failing.id, "urgent", "FAILED webhook:ops", "Agent stuck for 10m scenario:gone"],
      [info.id, "info", "-", "PR #3 merged"],
    ]);
    expect(rows.every((row) => /^\d+[smhd]/.test(row[2] ?? ""))).toBe(true);

    const urgent = await shepherd("notifications", "--priority", "urgent");
    expectSuccess(urgent);
    expect(rowsOf(urgent.stdout, /^ID\s+PRIORITY/).map((row) => row[0])).toEqual([failing.id]);

    const json = await shepherd("notifications", "--json");
    expectSuccess(json);
    const listed = JSON.parse(json.stdout) as {
      id: string;
      deliveries: { target: string; state: string }[];
    }[];
    expect(listed.map((item) => item.id)).toEqual([fine.id, failing.id, info.id]);
    expect(listed[1]?.deliveries).toMatchObject([
      { target: "dashboard", state: "delivered" },
      { target: "webhook:ops", state: "failed" },
    ]);

    const shown = await shepherd("notifications", "show", failing.id);
    expectSuccess(shown);
    const lines = shown.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`${failing.id}  Agent stuck for 10m scenario:gone`);
    expect(lines).toContain(`  ${"priority".padEnd(13)} urgent`);
    expect(lines).toContain(`  ${"state".padEnd(13)} open`);
    expect(lines).toContain(`  ${"session".padEnd(13)} sess-9`);
    expect(lines).toContain("  session sess-9 has been silent");
    expect(lines).toContain("  since 10:00");
    const deliveries = rowsOf(
      lines.slice(lines.indexOf("  deliveries:") + 1).join("\n"),
      /^\s+TARGET\s+STATE\s+ATTEMPTS\s+DELIVERED\s+LAST ERROR$/,
    );
    expect(deliveries.map((row) => row.slice(1))).toEqual([
      ["dashboard", "delivered", "1", expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/), "-"],
      ["webhook:ops", "failed", "1", "-", "HTTP 404: no_service"],
    ]);

    const acked = await shepherd("notifications", "ack", failing.id);
    expectSuccess(acked);
    expect(acked.stdout).toMatch(
      new RegExp(
        `^Acknowledged ${failing.id} \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d by tok_[0-9a-z]{26}\\)\\.\\n$`,
      ),
    );
    const again = await shepherd("notifications", "ack", failing.id, "--json");
    expectSuccess(again);
    const firstAck = await notifier.get(failing.id);
    expect(JSON.parse(again.stdout)).toMatchObject({
      state: "acknowledged",
      acknowledgedAt: new Date(firstAck.acknowledgedAt ?? 0).toISOString(),
      acknowledgedBy: firstAck.acknowledgedBy,
    });

    const open = await shepherd("notifications");
    expectSuccess(open);
    expect(rowsOf(open.stdout, /^ID\s+/).map((row) => row[0])).toEqual([fine.id, info.id]);
    const all = await shepherd("notifications", "ls", "--all");
    expectSuccess(all);
    const allRows = rowsOf(all.stdout, /^ID\s+PRIORITY\s+AGE\s+STATE\s+DELIVERY\s+TITLE$/);
    expect(allRows.map((row) => [row[0], row[3]])).toEqual([
      [fine.id, "open"],
      [failing.id, "acknowledged"],
      [info.id, "open"],
    ]);
    const shownAcked = await shepherd("notifications", "show", failing.id);
    expect(shownAcked.stdout).toMatch(
      /^ {2}state +acknowledged \d{4}-\d\d-\d\d \d\d:\d\d by tok_[0-9a-z]{26}$/m,
    );

    const unknown = "ntf_00000000000000000000000000";
    expectUserError(
      await shepherd("notifications", "ack", unknown),
      "non-zero",
      /no notification ntf_0+ \[NOT_FOUND\]/,
    );
    expectUserError(await shepherd("notifications", "show", unknown), "non-zero", /\[NOT_FOUND\]/);
    expectUserError(
      await shepherd("notifications", "--priority", "critical"),
      2,
      /--priority must be one of/,
    );
    expect(NOTIFICATION_ID.test(failing.id)).toBe(true);
  });
});
