import type { Command } from "commander";
import { RUN_STATES } from "../../domain/session.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { shortTime, type Output } from "../output.js";
import { fetchAllPages } from "../pages.js";

interface SessionView {
  id: string;
  goal: string;
  status: string;
  skill: string | null;
  repoId: string | null;
  runState: string;
  outcome: { kind: string; detail?: string } | null;
  currentAgent: string | null;
  retryCount: number;
  lastError: { code: string; message: string } | null;
  lastConfidence: number | null;
  lastActivityAt: string | null;
  createdAt: string;
}

interface SessionDetailView extends SessionView {
  runs: {
    agent: string;
    attempt: number;
    status: string;
    signal: string | null;
    confidence: number | null;
    inputTokens: number;
    outputTokens: number;
  }[];
  toolCalls: { id: string; tool: string; status: string; gate: { action: string; reason: string } }[];
  approvals: { id: string; state: string; reason: string; toolCallId: string; expiresAt: string }[];
  proposals: { id: string; status: string; title: string }[];
  pullRequests: { id: string; number: number; url: string; state: string }[];
  lastEventSeq: number | null;
}

interface ApprovalView {
  id: string;
  sessionId: string;
  toolCallId: string;
  state: string;
  reason: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
}

function outcomeLabel(session: SessionView): string {
  if (!session.outcome) return "-";
  return session.outcome.detail
    ? `${session.outcome.kind} (${session.outcome.detail})`
    : session.outcome.kind;
}

function printSession(output: Output, session: SessionDetailView): void {
  output.print(`${session.id}  ${session.goal}`);
  const rows: [string, string][] = [
    ["status", session.status],
    ["skill", `${session.skill ?? "-"}${session.currentAgent ? ` (agent ${session.currentAgent})` : ""}`],
    ["run state", session.runState],
    ["outcome", outcomeLabel(session)],
    ["confidence", session.lastConfidence === null ? "-" : session.lastConfidence.toFixed(2)],
    ["retries", String(session.retryCount)],
    ["last error", session.lastError ? `${session.lastError.code}: ${session.lastError.message}` : "-"],
    ["activity", shortTime(session.lastActivityAt)],
    ["events", session.lastEventSeq === null ? "-" : `up to ${session.lastEventSeq}`],
  ];
  for (const [key, value] of rows) output.print(`  ${key.padEnd(10)} ${value}`);
  if (session.runs.length > 0) output.print("\nAgent runs:");
  for (const run of session.runs) {
    const confidence = run.confidence === null ? "" : `, confidence ${run.confidence.toFixed(2)}`;
    output.print(
      `  ${run.agent} #${run.attempt}  ${run.status}${run.signal ? ` (${run.signal})` : ""}${confidence}, ${run.inputTokens}+${run.outputTokens} tokens`,
    );
  }
  if (session.toolCalls.length > 0) output.print("\nTool calls:");
  for (const call of session.toolCalls) {
    output.print(
      `  ${call.tool.padEnd(28)} ${call.status.padEnd(17)} gate ${call.gate.action} (${call.gate.reason})`,
    );
  }
  const pending = session.approvals.filter((approval) => approval.state === "pending");
  if (pending.length > 0) output.print("\nWaiting for approval:");
  for (const approval of pending) {
    output.print(`  ${approval.id}  ${approval.reason}, expires ${shortTime(approval.expiresAt)}`);
    output.print(`    shepherd approve ${approval.id}   |   shepherd reject ${approval.id} --reason "…"`);
  }
  for (const proposal of session.proposals)
    output.print(`\nProposal ${proposal.id}  ${proposal.status}  ${proposal.title}`);
  for (const pr of session.pullRequests) output.print(`PR #${pr.number}  ${pr.state}  ${pr.url}`);
}

/** `shepherd session …`, `shepherd approvals`, `shepherd approve|reject` (SPEC C6). */
export function registerSession(program: Command): void {
  const session = program.command("session").description("sessions of built-in agents");

  session
    .command("ls")
    .description("list sessions, newest first")
    .option("--repo <name>", "only this repo's")
    .option("--skill <name>", "only this skill pack's")
    .option("--run-state <state>", RUN_STATES.join(" | "))
    .option("--live", "only sessions that have not ended")
    .action(
      async (
        options: { repo?: string; skill?: string; runState?: string; live?: boolean },
        command: Command,
      ) => {
        const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
        const query = new URLSearchParams();
        if (options.repo) query.set("repo", options.repo);
        if (options.skill) query.set("skill", options.skill);
        if (options.runState) query.set("runState", options.runState);
        if (options.live) query.set("live", "true");
        const suffix = query.toString() ? `?${query.toString()}` : "";
        const sessions = await fetchAllPages<SessionView>(client, `/api/v1/sessions${suffix}`);
        if (output.json) {
          output.printJson(sessions);
          return;
        }
        output.table(
          ["ID", "STATUS", "SKILL", "OUTCOME", "ACTIVITY", "GOAL"],
          sessions.map((item) => [
            item.id,
            item.status,
            item.skill ?? "-",
            outcomeLabel(item),
            shortTime(item.lastActivityAt),
            item.goal.length > 50 ? `${item.goal.slice(0, 49)}…` : item.goal,
          ]),
        );
      },
    );

  session
    .command("start <skill> <goal>")
    .description("start a session of a skill pack's agents")
    .option("--repo <name>", "the repository it works on")
    .option("--input <key=value...>", "an input of the skill pack (repeatable)")
    .option("--environment <name>", "the environment it acts in")
    .action(
      async (
        skill: string,
        goal: string,
        options: { repo?: string; input?: string[]; environment?: string },
        command: Command,
      ) => {
        const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
        const inputs: Record<string, string> = {};
        for (const pair of options.input ?? []) {
          const at = pair.indexOf("=");
          if (at <= 0) throw new CliError(`--input takes key=value; got "${pair}"`, 2);
          inputs[pair.slice(0, at)] = pair.slice(at + 1);
        }
        const created = await client.post<SessionView>("/api/v1/sessions", {
          goal,
          agent: { skill },
          ...(options.repo ? { repoId: options.repo } : {}),
          ...(Object.keys(inputs).length > 0 ? { inputs } : {}),
          ...(options.environment ? { environment: options.environment } : {}),
        });
        if (output.json) output.printJson(created);
        else
          output.print(
            `Started session ${created.id} (${created.status}); follow it: shepherd logs --follow --session ${created.id}`,
          );
      },
    );

  session
    .command("show <id>")
    .description("show a session: status, agent runs, tool calls, approvals, proposals, PRs")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const found = await client.get<SessionDetailView>(`/api/v1/sessions/${encodeURIComponent(id)}`);
      if (output.json) output.printJson(found);
      else printSession(output, found);
    });

  session
    .command("send <id> <text>")
    .description("send an answer or an instruction to the session's agent")
    .action(async (id: string, text: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const sent = await client.post<{ messageId: string }>(
        `/api/v1/sessions/${encodeURIComponent(id)}/send`,
        { text },
      );
      if (output.json) output.printJson(sent);
      else output.print(`Sent to ${id} (${sent.messageId})`);
    });

  session
    .command("stop <id>")
    .description("stop a session (it ends `stopped`)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const stopped = await client.post<SessionView>(`/api/v1/sessions/${encodeURIComponent(id)}/stop`, {});
      if (output.json) output.printJson(stopped);
      else output.print(`Session ${id}: ${outcomeLabel(stopped)}`);
    });

  session
    .command("retry <id>")
    .description("retry a failed session if the retry policy allows it (--preview: only say)")
    .option("--preview", "show the decision without retrying")
    .action(async (id: string, options: { preview?: boolean }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
      const decision = options.preview
        ? await client.get<{ retry: boolean; reason: string }>(`${path}/retry-preview`)
        : await client.post<{ retry: boolean; reason: string }>(`${path}/retry`, {});
      if (output.json) output.printJson(decision);
      else if (decision.retry)
        output.print(options.preview ? `Would retry (${decision.reason})` : `Retrying ${id}`);
      else throw new CliError(`Not retried: ${decision.reason.replaceAll("_", " ")}`);
    });

  program
    .command("approvals")
    .description("gated tool calls waiting for a human")
    .option("--all", "decided ones too")
    .action(async (options: { all?: boolean }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const page = await client.get<{ data: ApprovalView[] }>(
        `/api/v1/approvals${options.all ? "" : "?state=pending"}`,
      );
      if (output.json) {
        output.printJson(page.data);
        return;
      }
      output.table(
        ["ID", "SESSION", "STATE", "REASON", "EXPIRES"],
        page.data.map((item) => [
          item.id,
          item.sessionId,
          item.state,
          item.reason,
          shortTime(item.expiresAt),
        ]),
      );
    });

  for (const [name, decision] of [
    ["approve", "approve"],
    ["reject", "reject"],
  ] as const) {
    program
      .command(`${name} <approval>`)
      .description(`${name} a gated tool call; its session resumes exactly that call`)
      .option("--reason <text>", "why (kept with the decision)")
      .action(async (id: string, options: { reason?: string }, command: Command) => {
        const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
        const decided = await client.post<ApprovalView>(`/api/v1/approvals/${encodeURIComponent(id)}`, {
          decision,
          ...(options.reason ? { rationale: options.reason } : {}),
        });
        if (output.json) output.printJson(decided);
        else
          output.print(
            `${decided.state === "approved" ? "Approved" : "Rejected"} ${id}; session ${decided.sessionId} resumes`,
          );
      });
  }
}
