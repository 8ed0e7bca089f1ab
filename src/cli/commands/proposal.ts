import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { PROPOSAL_STATUSES } from "../../domain/proposal.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { shortTime, type Output } from "../output.js";
import { fetchAllPages } from "../pages.js";
import type { ApiClient } from "../api-client.js";
import { resolvePr } from "./pr.js";

interface ProposalView {
  id: string;
  repoId: string;
  sessionId: string | null;
  title: string;
  kind: string;
  change: unknown;
  evidence: unknown;
  followUpOf: string | null;
  manual: boolean;
  status: string;
  rejectedReason: string | null;
  prOpenError: string | null;
  pr: { number: number; url: string; branch: string | null } | null;
  openJobId: string | null;
  createdAt: string;
}

interface CreateOptions {
  repo?: string;
  title?: string;
  session?: string;
  from?: string;
  params?: string;
  format?: string;
  set: string[];
  expect: string[];
  write: string[];
  delete: string[];
  evidence?: string;
  followUpOf?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `key=value`; the value is JSON when it parses as JSON (numbers, booleans, objects), else a string. */
function keyValue(flag: string, text: string): [string, unknown] {
  const index = text.indexOf("=");
  if (index <= 0) throw new CliError(`${flag} takes key=value; got "${text}"`, 2);
  const raw = text.slice(index + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [text.slice(0, index), value];
}

async function readStructured(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  try {
    return /\.ya?ml$/i.test(file) ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (error) {
    throw new CliError(
      `${what} ${file} is not valid ${/\.ya?ml$/i.test(file) ? "YAML" : "JSON"}: ${(error as Error).message.split("\n")[0] ?? ""}`,
    );
  }
}

async function buildBody(client: ApiClient, options: CreateOptions): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = options.from
    ? ((await readStructured(options.from, "proposal file")) as Record<string, unknown>)
    : {};
  if (options.repo) body.repoId = options.repo;
  if (options.title) body.title = options.title;
  if (options.session) body.sessionId = options.session;
  if (options.evidence) body.evidence = await readStructured(options.evidence, "evidence file");
  if (options.followUpOf) body.followUpOf = await resolvePr(client, options.followUpOf);
  if (options.params) {
    const set: Record<string, { from?: unknown; to: unknown }> = {};
    for (const entry of options.set) {
      const [key, to] = keyValue("--set", entry);
      set[key] = { to };
    }
    for (const entry of options.expect) {
      const [key, from] = keyValue("--expect", entry);
      if (!set[key]) throw new CliError(`--expect ${key}=… has no matching --set ${key}=…`, 2);
      set[key].from = from;
    }
    if (Object.keys(set).length === 0) throw new CliError("--params needs at least one --set key=value", 2);
    body.kind = "params";
    body.change = { path: options.params, ...(options.format ? { format: options.format } : {}), set };
  } else if (options.write.length > 0 || options.delete.length > 0) {
    const files: Record<string, unknown>[] = [];
    for (const entry of options.write) {
      const index = entry.indexOf("=");
      if (index <= 0) throw new CliError(`--write takes <path in repo>=<local file>; got "${entry}"`, 2);
      const local = entry.slice(index + 1);
      const content = await readFile(local, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${local}: ${error.code ?? "error"}`);
      });
      files.push({ path: entry.slice(0, index), content });
    }
    for (const path of options.delete) files.push({ path, delete: true });
    body.kind = "files";
    body.change = { files };
  }
  if (!body.repoId) throw new CliError("say which repo: --repo <name>", 2);
  if (!body.title) throw new CliError("give the proposal a --title", 2);
  if (!body.kind)
    throw new CliError(
      "say what to change: --params <file> --set k=v, --write path=file, or --from <file>",
      2,
    );
  return body;
}

function printProposal(output: Output, p: ProposalView): void {
  output.print(`${p.id}  ${p.title}`);
  const rows: [string, string][] = [
    ["status", p.status + (p.rejectedReason ? ` (${p.rejectedReason})` : "")],
    ["repo", p.repoId],
    ["kind", `${p.kind}${p.manual ? " (manual: no evidence)" : ""}`],
    ["session", p.sessionId ?? "-"],
    ["pull request", p.pr ? `#${p.pr.number} ${p.pr.url}` : "-"],
    ["follow-up of", p.followUpOf ?? "-"],
    ["last error", p.prOpenError ?? "-"],
    ["created", shortTime(p.createdAt)],
  ];
  for (const [key, value] of rows) output.print(`  ${key.padEnd(13)} ${value}`);
  output.print(`  change        ${JSON.stringify(p.change)}`);
}

async function waitForOutcome(client: ApiClient, id: string, timeoutMs: number): Promise<ProposalView> {
  const deadline = Date.now() + timeoutMs;
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  const tty = process.stderr.isTTY;
  let frame = 0;
  try {
    for (;;) {
      const proposal = await client.get<ProposalView>(`/api/v1/proposals/${encodeURIComponent(id)}`);
      const settledError = proposal.prOpenError !== null && !proposal.prOpenError.endsWith("(retrying)");
      if (proposal.status !== "pending" || settledError) return proposal;
      if (Date.now() > deadline) {
        throw new CliError(
          `still opening after ${Math.round(timeoutMs / 1000)} s; check later with \`shepherd proposal show ${id}\``,
        );
      }
      if (tty) process.stderr.write(`\r${frames[frame++ % frames.length]} opening the pull request…`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    if (tty) process.stderr.write("\r\u001b[K");
  }
}

/** `shepherd proposal create|ls|show|open-pr|reject|reopen` (SPEC C3). */
export function registerProposal(program: Command): void {
  const proposal = program.command("proposal").description("propose changes and open their pull requests");

  proposal
    .command("create")
    .description(
      "propose a change: a params edit (--params --set) or files (--write/--delete), or --from a file",
    )
    .option("--repo <name>", "the repository")
    .option("--title <text>", "PR title")
    .option("--session <id>", "the session this change belongs to")
    .option("--params <path>", "a JSON or YAML file in the repo whose values to change")
    .option("--format <json|yaml>", "the params file's format (default: by extension)")
    .option("--set <key=value>", "a dotted key and its new value (repeatable)", collect, [])
    .option(
      "--expect <key=value>",
      "the value the key must have now, else PARAM_DRIFT (repeatable)",
      collect,
      [],
    )
    .option(
      "--write <path=localfile>",
      "write a file in the repo with a local file's content (repeatable)",
      collect,
      [],
    )
    .option("--delete <path>", "delete a file in the repo (repeatable)", collect, [])
    .option("--evidence <file>", "evidence JSON/YAML: summary, metrics, importance, followups, links")
    .option(
      "--follow-up-of <pr>",
      "commit the change on this open PR's branch (pr_… or <repo>#<number>) instead of opening a new PR",
    )
    .option("--from <file>", "the whole proposal as JSON or YAML (the flags above override its fields)")
    .action(async (options: CreateOptions, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const created = await client.post<ProposalView>("/api/v1/proposals", await buildBody(client, options));
      if (output.json) output.printJson(created);
      else if (created.followUpOf && created.openJobId)
        output.print(
          `Created follow-up ${created.id} (${created.kind}); the repo takes follow-ups without a new approval: it is being pushed to the PR`,
        );
      else
        output.print(
          `Created ${created.followUpOf ? "follow-up" : "proposal"} ${created.id} (${created.kind}); ${created.followUpOf ? "push it to the PR" : "open its PR"} with: shepherd proposal open-pr ${created.id}`,
        );
    });

  proposal
    .command("ls")
    .description("list proposals, newest first")
    .option("--status <status>", PROPOSAL_STATUSES.join(" | "))
    .option("--repo <name>", "only this repo")
    .option("--session <id>", "only this session")
    .action(async (options: { status?: string; repo?: string; session?: string }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const query = new URLSearchParams();
      if (options.status) query.set("status", options.status);
      if (options.repo) query.set("repo", options.repo);
      if (options.session) query.set("session", options.session);
      const suffix = query.toString() ? `?${query.toString()}` : "";
      const proposals = await fetchAllPages<ProposalView>(client, `/api/v1/proposals${suffix}`);
      if (output.json) {
        output.printJson(proposals);
        return;
      }
      output.table(
        ["ID", "STATUS", "KIND", "TITLE", "PR", "ERROR"],
        proposals.map((p) => [
          p.id,
          p.status,
          p.kind,
          p.title.length > 50 ? `${p.title.slice(0, 49)}…` : p.title,
          p.pr ? `#${p.pr.number}` : "-",
          p.prOpenError ? (p.prOpenError.split(":")[0] ?? "") : "-",
        ]),
      );
    });

  proposal
    .command("show <id>")
    .description("show a proposal, its PR or its last error")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const found = await client.get<ProposalView>(`/api/v1/proposals/${encodeURIComponent(id)}`);
      if (output.json) output.printJson(found);
      else printProposal(output, found);
    });

  proposal
    .command("open-pr <id>")
    .description("approve the proposal: open its pull request")
    .option("--wait", "wait until the PR is open or the attempt fails")
    .option("--timeout <seconds>", "how long --wait waits", "300")
    .action(async (id: string, options: { wait?: boolean; timeout: string }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const queued = await client.post<{ jobId: string; deduplicated: boolean }>(
        `/api/v1/proposals/${encodeURIComponent(id)}/open-pr`,
        undefined,
      );
      if (!options.wait) {
        if (output.json) output.printJson(queued);
        else output.print(`Queued (job ${queued.jobId}${queued.deduplicated ? ", already under way" : ""}).`);
        return;
      }
      const seconds = Number(options.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0)
        throw new CliError("--timeout takes a number of seconds", 2);
      const outcome = await waitForOutcome(client, id, seconds * 1000);
      if (output.json) output.printJson(outcome);
      else if (outcome.pr && outcome.status === "pr_opened")
        output.print(`Opened #${outcome.pr.number}: ${outcome.pr.url}`);
      if (outcome.status !== "pr_opened") {
        throw new CliError(
          outcome.prOpenError ? `not opened: ${outcome.prOpenError}` : `proposal is ${outcome.status}`,
        );
      }
    });

  proposal
    .command("reject <id>")
    .description("reject a pending proposal")
    .requiredOption("--reason <text>", "why (recorded and shown)")
    .action(async (id: string, options: { reason: string }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const rejected = await client.post<ProposalView>(`/api/v1/proposals/${encodeURIComponent(id)}/reject`, {
        reason: options.reason,
      });
      if (output.json) output.printJson(rejected);
      else output.print(`Rejected ${rejected.id}.`);
    });

  proposal
    .command("reopen <id>")
    .description("send a proposal whose PR was closed back to pending")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const reopened = await client.post<ProposalView>(
        `/api/v1/proposals/${encodeURIComponent(id)}/reopen`,
        undefined,
      );
      if (output.json) output.printJson(reopened);
      else output.print(`Reopened ${reopened.id}; it is pending again.`);
    });
}
