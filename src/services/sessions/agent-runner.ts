import type { Logger } from "pino";
import type { LlmClient, LlmMessage, LlmToolCall } from "../../agents/llm/llm-port.js";
import type { McpConnections } from "../../agents/mcp/mcp-connections.js";
import type { McpTool } from "../../agents/mcp/mcp-tool.js";
import {
  BUILTIN_SERVER,
  END_OF_SESSION,
  type SkillAgent,
  type SkillPack,
  type ToolRef,
} from "../../agents/skills/skill-pack.js";
import { builtinTool, type BuiltinToolContext, type ToolOutcome } from "../../agents/tools/builtin-tools.js";
import type { GatePolicy } from "../../domain/gate-policy.js";
import { isPlainObject } from "../../domain/params/json-value.js";
import type { SessionOutcome } from "../../domain/session.js";
import { ENVELOPE_INSTRUCTIONS, parseTurnEnvelope } from "../../domain/turn-envelope.js";
import type { AgentRunRecord, AgentRunStore, ToolCallRecord } from "../../store/agent-run-store.js";
import type { ApprovalStore } from "../../store/approval-store.js";
import type { SessionMessageStore } from "../../store/session-message-store.js";
import type {
  SessionError,
  SessionFactsPatch,
  SessionRecord,
  SessionStore,
} from "../../store/session-store.js";
import { StaleVersionError } from "../../store/transitions.js";
import type { Notifier } from "../notifier.js";
import type { AppendEvent } from "../event-log.js";
import { agentTools, executeTool, planToolCall, type AgentTool } from "./agent-tools.js";
import type { SessionFacts } from "./session-facts.js";

/** A skill pack ready to run: its agents' resolved tools and its MCP servers' connections. */
export interface LoadedSkillPack {
  pack: SkillPack;
  agentTools: ReadonlyMap<string, readonly ToolRef[]>;
  mcp: McpConnections | null;
  mcpTools: readonly McpTool[];
}

export interface AgentRunnerDeps {
  sessions: SessionStore;
  facts: SessionFacts;
  runs: AgentRunStore;
  approvals: ApprovalStore;
  messages: SessionMessageStore;
  packs: ReadonlyMap<string, LoadedSkillPack>;
  llmFor(model: string): Promise<LlmClient>;
  /** What built-in tools need for one call of one session. */
  toolContext(session: SessionRecord, toolCallId: string): Promise<BuiltinToolContext>;
  /** A `submit_proposal` call that is a follow-up the repo opens without a new approval (SPEC C3). */
  approvedFollowUp(session: SessionRecord, args: Record<string, unknown>): Promise<boolean>;
  /** Lessons for a new session's first agent, as prompt text (empty when none). */
  lessonsFor(session: SessionRecord): Promise<string>;
  /** Tells humans (the gate's `notify`: a medium-risk call ran). */
  notifier: Notifier;
  gate: GatePolicy;
  approvalTimeoutMs: number;
  maxRunningSessions: number;
  clock: () => number;
  logger: Logger;
}

/** Why `run` returned. */
export type RunStop = "not_found" | "finished" | "queued" | "paused" | "idle" | "nothing_to_do";

class SessionGone extends Error {}

const MAX_ENVELOPE_REMINDERS = 1;

function toolMessage(call: LlmToolCall, outcome: ToolOutcome): LlmMessage {
  return {
    role: "tool",
    toolCallId: call.id,
    toolName: call.name,
    result: outcome.result,
    isError: outcome.isError,
  };
}

function errorOf(error: unknown): SessionError {
  const code =
    error !== null && typeof error === "object" && "code" in error && typeof error.code === "string"
      ? error.code
      : "INTERNAL";
  return { code, message: error instanceof Error ? error.message : String(error) };
}

/**
 * Runs a built-in agent session (SPEC C6) from its stored state: the conversation of its current
 * run, its tool calls and their approvals are all in the database, so a run can stop anywhere —
 * a gated call, a crash, a deploy — and go on from exactly there. It is called with the session's
 * lock held, so one runner at a time works on a session.
 */
export class AgentRunner {
  constructor(private readonly deps: AgentRunnerDeps) {}

  async run(sessionId: string, signal: AbortSignal): Promise<RunStop> {
    let session = await this.deps.sessions.get(sessionId);
    if (!session) return "not_found";
    if (session.outcome) return "finished";
    // Not a built-in agent's session (a CLI harness runs it, or it only owns a branch).
    if (session.skill === null) return "nothing_to_do";
    const loaded = this.deps.packs.get(session.skill);
    if (!loaded) {
      await this.#end(
        session,
        { kind: "failed", detail: `skill pack "${session.skill}" is not loaded` },
        "failed",
        {
          code: "SKILL_NOT_FOUND",
          message: `skill pack "${session.skill}" is not loaded on this server`,
        },
      );
      return "finished";
    }
    try {
      const started = await this.#start(session, loaded);
      if (typeof started === "string") return started;
      session = started;
      return await this.#loop(session, loaded, signal);
    } catch (error) {
      // The session ended under the run (stopped, escalated by the watchdog): close the run.
      const ended = error instanceof SessionGone || (await this.deps.sessions.get(sessionId))?.outcome;
      if (!ended) throw error;
      const run = await this.deps.runs.currentRun(sessionId);
      if (run) await this.deps.runs.finishRun(run.id, { status: "stopped" }, this.deps.clock());
      return "finished";
    }
  }

  /** Takes the session into `running` if it has work, else says why not. */
  async #start(session: SessionRecord, loaded: LoadedSkillPack): Promise<SessionRecord | RunStop> {
    const unread = await this.deps.messages.unconsumed(session.id);
    const now = this.deps.clock();
    switch (session.runState) {
      case "running":
        return session;
      case "queued": {
        if ((await this.deps.sessions.countRunning()) >= this.deps.maxRunningSessions) return "queued";
        return this.#update(
          session,
          {
            runState: "running",
            startedAt: session.startedAt ?? now,
            queuedAt: null,
            currentAgent: session.currentAgent ?? loaded.pack.entry,
            lastActivityAt: now,
          },
          "started",
        );
      }
      case "paused": {
        if (session.pauseKind === "approval") {
          const run = await this.deps.runs.currentRun(session.id);
          const pending = run ? await this.#pendingApprovalCall(run) : null;
          if (pending) return "paused";
        } else if (unread.length === 0) {
          return "paused";
        }
        return this.#update(
          session,
          { runState: "running", pauseKind: null, pausedAt: null, lastActivityAt: now },
          session.pauseKind === "approval" ? "approval_decided" : "input_received",
        );
      }
      case "idle":
      case "exited": {
        if (unread.length === 0) return "nothing_to_do";
        return this.#update(session, { runState: "running", lastActivityAt: now }, "nudged");
      }
    }
  }

  async #pendingApprovalCall(run: AgentRunRecord): Promise<ToolCallRecord | null> {
    for (const call of this.#pendingCalls(await this.deps.runs.messages(run.id))) {
      const record = await this.deps.runs.toolCallByLlmId(run.id, call.id);
      if (record?.status === "pending_approval") {
        const approval = await this.deps.approvals.byToolCall(record.id);
        if (approval?.state === "pending") return record;
      }
    }
    return null;
  }

  async #loop(initial: SessionRecord, loaded: LoadedSkillPack, signal: AbortSignal): Promise<RunStop> {
    let session = initial;
    let reminders = 0;
    for (;;) {
      signal.throwIfAborted();
      session = await this.#fresh(session);
      const agent = loaded.pack.agents.get(session.currentAgent ?? loaded.pack.entry);
      if (!agent) {
        await this.#end(session, { kind: "failed", detail: "unknown agent" }, "failed", {
          code: "SKILL_NOT_FOUND",
          message: `agent "${session.currentAgent}" is not in skill pack "${loaded.pack.name}"`,
        });
        return "finished";
      }
      const tools = agentTools(loaded.agentTools.get(agent.name) ?? [], loaded.mcpTools);
      const run = (await this.deps.runs.currentRun(session.id)) ?? (await this.#newRun(session, agent, null));
      let conversation = await this.deps.runs.messages(run.id);

      // Messages that arrived for the agent (nudges, a human's answers) join the conversation.
      const unread = await this.deps.messages.unconsumed(session.id);
      const pendingCalls = this.#pendingCalls(conversation);
      if (unread.length > 0 && pendingCalls.length === 0) {
        const now = this.deps.clock();
        await this.deps.facts.write(
          session.id,
          session.version,
          { lastActivityAt: now },
          "input",
          async (trx) => {
            await this.deps.runs.appendMessage(
              {
                runId: run.id,
                sessionId: session.id,
                idx: conversation.length,
                role: "user",
                body: {
                  role: "user",
                  content: unread.map((message) => message.fullText ?? message.text).join("\n\n"),
                },
              },
              now,
              trx,
            );
            await this.deps.messages.markConsumed(
              unread.map((message) => message.id),
              now,
              trx,
            );
          },
        );
        continue;
      }

      if (pendingCalls.length > 0) {
        const outcome = await this.#toolCalls(
          session,
          run,
          loaded,
          tools,
          pendingCalls,
          conversation.length,
          signal,
        );
        if (outcome === "paused") return "paused";
        if (outcome?.outcome) {
          await this.#endWithTool(session, run, outcome);
          return "finished";
        }
        continue;
      }

      // Shepherd stopped after a terminal tool answered but before the session ended with it:
      // end it now instead of asking the model for a step after its last word.
      const answered = await this.#answeredTerminal(session, run, tools, conversation);
      if (answered) {
        await this.#endWithTool(session, run, answered);
        return "finished";
      }

      const steps = conversation.filter((message) => message.role === "assistant").length;
      if (steps >= agent.maxSteps) {
        await this.deps.runs.finishRun(run.id, { status: "completed" }, this.deps.clock());
        await this.#end(
          session,
          { kind: "needs_review", detail: `step limit (${agent.maxSteps}) reached` },
          "step_limit",
        );
        return "finished";
      }

      let answer;
      try {
        const client = await this.deps.llmFor(agent.model);
        answer = await client.complete({
          system: await this.#systemPrompt(session, agent, loaded),
          messages: conversation.map((message) => message.body as LlmMessage),
          tools: tools.map((tool) => tool.spec),
          signal,
        });
      } catch (error) {
        if (signal.aborted) throw error;
        const failure = errorOf(error);
        await this.deps.runs.finishRun(run.id, { status: "failed", error: failure }, this.deps.clock());
        await this.#end(session, { kind: "failed", detail: failure.code }, "agent_failed", failure);
        return "finished";
      }
      const now = this.deps.clock();
      await this.deps.runs.appendMessage(
        {
          runId: run.id,
          sessionId: session.id,
          idx: conversation.length,
          role: "assistant",
          body: { role: "assistant", content: answer.text, toolCalls: answer.toolCalls },
          tokens: { input: answer.usage.inputTokens, output: answer.usage.outputTokens },
        },
        now,
      );
      await this.deps.runs.addUsage(run.id, {
        provider: answer.provider,
        model: answer.model,
        inputTokens: answer.usage.inputTokens ?? 0,
        outputTokens: answer.usage.outputTokens ?? 0,
      });
      session = await this.#update(session, { lastActivityAt: now }, "agent_turn");
      if (answer.toolCalls.length > 0) continue;

      // The turn ended: the envelope says how sure the agent is and where to go next.
      const parsed = parseTurnEnvelope(answer.text);
      conversation = await this.deps.runs.messages(run.id);
      if (!parsed.ok) {
        if (reminders < MAX_ENVELOPE_REMINDERS) {
          reminders += 1;
          await this.deps.runs.appendMessage(
            {
              runId: run.id,
              sessionId: session.id,
              idx: conversation.length,
              role: "user",
              body: {
                role: "user",
                content: `Your reply did not end your turn correctly (${parsed.error}). ${ENVELOPE_INSTRUCTIONS}`,
              },
            },
            this.deps.clock(),
          );
          continue;
        }
        const failure = { code: "ENVELOPE_MISSING", message: parsed.error };
        await this.deps.runs.finishRun(run.id, { status: "failed", error: failure }, this.deps.clock());
        await this.#end(session, { kind: "failed", detail: failure.code }, "agent_failed", failure);
        return "finished";
      }
      reminders = 0;
      const envelope = parsed.envelope;
      await this.deps.runs.finishRun(
        run.id,
        {
          status: "completed",
          envelope: { ...envelope },
          signal: envelope.signal,
          confidence: envelope.confidence,
        },
        this.deps.clock(),
      );
      const route =
        agent.routes.find((candidate) => candidate.when === envelope.signal) ??
        agent.routes.find((candidate) => candidate.when === "default");
      const next = route?.next ?? END_OF_SESSION;
      if (envelope.signal === "needs_input") {
        await this.#update(
          session,
          {
            runState: "paused",
            pauseKind: "input",
            pausedAt: this.deps.clock(),
            lastConfidence: envelope.confidence,
          },
          "needs_input",
        );
        return "paused";
      }
      if (next !== END_OF_SESSION) {
        session = await this.#update(
          session,
          { currentAgent: next, lastConfidence: envelope.confidence },
          "handoff",
        );
        const nextAgent = loaded.pack.agents.get(next);
        if (nextAgent) await this.#newRun(session, nextAgent, envelope.content);
        continue;
      }
      // The team's work is done for now. With a PR or a proposal in flight the session waits
      // (idle) for what happens to it; otherwise it ended without saying how: a human looks.
      if (await this.#hasWorkInFlight(session.id)) {
        await this.#update(session, { runState: "idle", lastConfidence: envelope.confidence }, "turn_ended");
        return "idle";
      }
      await this.#end(
        session,
        { kind: "needs_review", detail: "the agents finished without mark_resolved or mark_escalated" },
        "no_terminal_tool",
      );
      return "finished";
    }
  }

  /** Ends the session with a terminal tool's outcome; its summary or reason is the run's report. */
  async #endWithTool(session: SessionRecord, run: AgentRunRecord, outcome: ToolOutcome): Promise<void> {
    if (!outcome.outcome) return;
    const report = outcome.report;
    await this.deps.runs.finishRun(
      run.id,
      report
        ? {
            status: "completed",
            envelope: { content: report.content, confidence: report.confidence, rationale: "" },
            confidence: report.confidence,
          }
        : { status: "completed" },
      this.deps.clock(),
    );
    await this.#end(
      await this.#fresh(session),
      outcome.outcome,
      "terminal_tool",
      undefined,
      report?.confidence,
    );
  }

  /** A terminal tool of the newest assistant message that ran and answered, asked again (it is pure). */
  async #answeredTerminal(
    session: SessionRecord,
    run: AgentRunRecord,
    tools: readonly AgentTool[],
    conversation: readonly { role: string; body: unknown }[],
  ): Promise<ToolOutcome | null> {
    const lastAssistant = conversation.map((message) => message.role).lastIndexOf("assistant");
    const calls = (conversation[lastAssistant]?.body as { toolCalls?: LlmToolCall[] } | undefined)?.toolCalls;
    for (const call of calls ?? []) {
      const tool = tools.find((candidate) => candidate.llmName === call.name);
      if (!tool || tool.server !== BUILTIN_SERVER || !builtinTool(tool.tool)?.terminal) continue;
      const record = await this.deps.runs.toolCallByLlmId(run.id, call.id);
      if (record?.status !== "executed") continue;
      const outcome = await executeTool(
        tool,
        record.args,
        await this.deps.toolContext(session, record.id),
        null,
      );
      if (outcome.outcome && !outcome.isError) return outcome;
    }
    return null;
  }

  /** Tool calls of the newest assistant message that have no result yet, in order. */
  #pendingCalls(conversation: readonly { role: string; body: unknown }[]): LlmToolCall[] {
    const lastAssistant = conversation.map((message) => message.role).lastIndexOf("assistant");
    if (lastAssistant < 0) return [];
    const calls = (conversation[lastAssistant]?.body as { toolCalls?: LlmToolCall[] }).toolCalls ?? [];
    const answered = new Set(
      conversation
        .slice(lastAssistant + 1)
        .filter((message) => message.role === "tool")
        .map((message) => (message.body as { toolCallId: string }).toolCallId),
    );
    return calls.filter((call) => !answered.has(call.id));
  }

  /**
   * Works through the pending calls in order. Returns "paused" when one waits for a human, the
   * terminal tool's result when one succeeded, null when every call has its result.
   */
  async #toolCalls(
    session: SessionRecord,
    run: AgentRunRecord,
    loaded: LoadedSkillPack,
    tools: readonly AgentTool[],
    calls: readonly LlmToolCall[],
    nextIdx: number,
    signal: AbortSignal,
  ): Promise<"paused" | ToolOutcome | null> {
    let idx = nextIdx;
    for (const call of calls) {
      const tool = tools.find((candidate) => candidate.llmName === call.name);
      let record = await this.deps.runs.toolCallByLlmId(run.id, call.id);
      if (!tool) {
        await this.#answer(session, run, idx++, call, {
          result: { error: `unknown tool ${call.name}` },
          isError: true,
        });
        continue;
      }
      if (!record) {
        const repo = session.repoId;
        const followUp =
          tool.server === BUILTIN_SERVER &&
          tool.tool === "submit_proposal" &&
          isPlainObject(call.args) &&
          (await this.deps.approvedFollowUp(session, call.args));
        const plan = planToolCall(
          tool,
          call.args,
          { id: session.id, repo, environment: session.environment },
          session.lastConfidence,
          this.#policyFor(loaded, session),
          followUp,
        );
        const status =
          plan.gate.action === "deny"
            ? "denied"
            : plan.gate.action === "approve"
              ? "pending_approval"
              : "approved";
        const now = this.deps.clock();
        if (status === "pending_approval") {
          // The approval row is written before the session pauses, in the same transaction.
          await this.deps.facts.write(
            session.id,
            session.version,
            { runState: "paused", pauseKind: "approval", pausedAt: now },
            "approval_requested",
            async (trx, emit) => {
              const created = await this.deps.runs.createToolCall(
                this.#newCall(session, run, call, tool, plan, status),
                now,
                trx,
              );
              const approval = await this.deps.approvals.create(
                {
                  sessionId: session.id,
                  toolCallId: created.id,
                  reason: plan.gate.reason,
                  expiresAt: now + this.deps.approvalTimeoutMs,
                },
                now,
                trx,
              );
              this.#gateEvents(emit, session, created, plan.gate.reason);
              emit({
                kind: "approval.requested",
                sessionId: session.id,
                payload: {
                  approvalId: approval.id,
                  toolCallId: created.id,
                  tool: `${tool.server}:${tool.tool}`,
                  reason: plan.gate.reason,
                  expiresAt: new Date(approval.expiresAt).toISOString(),
                },
              });
            },
          );
          return "paused";
        }
        record = await this.deps.runs.createToolCall(
          this.#newCall(session, run, call, tool, plan, status),
          now,
        );
        if (plan.gate.action !== "auto") {
          await this.deps.facts.write(
            session.id,
            (await this.#fresh(session)).version,
            {},
            "gate",
            async (_trx, emit) => this.#gateEvents(emit, session, record as ToolCallRecord, plan.gate.reason),
          );
        }
      }
      const outcome = await this.#settle(session, run, record, tool, loaded, signal);
      if (outcome === "paused") return "paused";
      await this.#answer(session, run, idx++, call, outcome);
      if (outcome.outcome && !outcome.isError) return outcome;
    }
    return null;
  }

  /** Brings a recorded call to its result: waits, runs it, or reports what happened. */
  async #settle(
    session: SessionRecord,
    run: AgentRunRecord,
    initial: ToolCallRecord,
    tool: AgentTool,
    loaded: LoadedSkillPack,
    signal: AbortSignal,
  ): Promise<ToolOutcome | "paused"> {
    let record = initial;
    const now = (): number => this.deps.clock();
    if (record.status === "pending_approval") {
      const approval = await this.deps.approvals.byToolCall(record.id);
      if (!approval || approval.state === "pending") return "paused";
      const status =
        approval.state === "approved" ? "approved" : approval.state === "rejected" ? "rejected" : "timed_out";
      record = await this.deps.runs.updateToolCall(record, { status }, now());
    }
    switch (record.status) {
      case "denied":
        return { result: { denied: true, reason: record.gateReason }, isError: true };
      case "rejected":
      case "timed_out": {
        const approval = await this.deps.approvals.byToolCall(record.id);
        return {
          result: {
            [record.status === "rejected" ? "rejected" : "timeout"]: true,
            rationale: approval?.rationale ?? null,
          },
          isError: true,
        };
      }
      case "executing":
        // The process stopped while the call ran: whether it took effect is unknown, so it is
        // not run again (a tool call id executes at most once); the agent is told.
        record = await this.deps.runs.updateToolCall(
          record,
          {
            status: "interrupted",
            error: { code: "INTERRUPTED", message: "the call was interrupted; its effect is unknown" },
          },
          now(),
        );
        return {
          result: {
            error: "interrupted: Shepherd stopped while this call ran; check its effect before retrying",
          },
          isError: true,
        };
      case "executed":
        if (tool.server === BUILTIN_SERVER && builtinTool(tool.tool)?.terminal) {
          // It ran, but Shepherd stopped before the session ended with it: a terminal tool has no
          // side effect, so asking it again gives back the outcome the crash lost.
          return executeTool(tool, record.args, await this.deps.toolContext(session, record.id), null);
        }
        return { result: record.result ?? record.error, isError: false };
      case "failed":
      case "interrupted":
        return { result: record.result ?? record.error, isError: true };
      case "approved": {
        record = await this.deps.runs.updateToolCall(record, { status: "executing" }, now());
        let outcome: ToolOutcome;
        try {
          const context = await this.deps.toolContext(session, record.id);
          outcome = await executeTool(tool, record.args, context, loaded.mcp, signal);
        } catch (error) {
          outcome = { result: { error: errorOf(error).message }, isError: true };
        }
        await this.deps.runs.updateToolCall(
          record,
          { status: outcome.isError ? "failed" : "executed", result: outcome.result },
          now(),
        );
        if (record.gateAction === "notify") {
          await this.deps.notifier.notify({
            dedupKey: `gate:${record.id}`,
            kind: "gate.notify",
            priority: "info",
            title: `${record.server}:${record.tool} ran in session ${session.id}`,
            body: `${outcome.isError ? "It failed" : "It ran"} (risk ${record.risk ?? "unknown"}, ${record.gateReason}). Goal: ${session.goal}`,
            repoId: session.repoId,
            sessionId: session.id,
          });
        }
        await this.deps.facts.write(
          session.id,
          (await this.#fresh(session)).version,
          { lastActivityAt: now() },
          "tool",
          async (_trx, emit) => {
            emit({
              kind: "tool.invoked",
              sessionId: session.id,
              payload: {
                toolCallId: record.id,
                tool: `${record.server}:${record.tool}`,
                status: outcome.isError ? "failed" : "executed",
                risk: record.risk,
                decision: record.gateAction,
              },
            });
          },
        );
        return outcome;
      }
      case "pending_approval":
        return "paused";
    }
  }

  #newCall(
    session: SessionRecord,
    run: AgentRunRecord,
    call: LlmToolCall,
    tool: AgentTool,
    plan: ReturnType<typeof planToolCall>,
    status: "denied" | "pending_approval" | "approved",
  ) {
    return {
      sessionId: session.id,
      runId: run.id,
      llmCallId: call.id,
      server: tool.server,
      tool: tool.tool,
      args: plan.args,
      risk: plan.gate.risk,
      gateAction: plan.gate.action,
      gateReason: plan.gate.reason,
      confidence: session.lastConfidence,
      status,
    };
  }

  #gateEvents(
    emit: (event: AppendEvent) => void,
    session: SessionRecord,
    call: ToolCallRecord,
    reason: string,
  ): void {
    emit({
      kind: "gate.fired",
      sessionId: session.id,
      payload: { toolCallId: call.id, tool: `${call.server}:${call.tool}`, action: call.gateAction, reason },
    });
  }

  async #answer(
    session: SessionRecord,
    run: AgentRunRecord,
    idx: number,
    call: LlmToolCall,
    outcome: ToolOutcome,
  ): Promise<void> {
    await this.deps.runs.appendMessage(
      { runId: run.id, sessionId: session.id, idx, role: "tool", body: toolMessage(call, outcome) },
      this.deps.clock(),
    );
  }

  #policyFor(loaded: LoadedSkillPack, session: SessionRecord): GatePolicy {
    const agent = loaded.pack.agents.get(session.currentAgent ?? loaded.pack.entry);
    const declared = Object.fromEntries(loaded.pack.declaredRisks);
    return {
      // The operator's map wins over what the pack declares for its own tools.
      tools: { ...declared, ...this.deps.gate.tools },
      confidenceThreshold: agent?.confidenceThreshold ?? this.deps.gate.confidenceThreshold,
      gatedEnvironments: this.deps.gate.gatedEnvironments,
    };
  }

  async #newRun(session: SessionRecord, agent: SkillAgent, handoff: string | null): Promise<AgentRunRecord> {
    const now = this.deps.clock();
    const previous = (await this.deps.runs.listRuns(session.id)).at(-1);
    const attempt = { sessionId: session.id, agent: agent.name, attempt: session.retryCount + 1 };
    if (
      handoff === null &&
      previous !== undefined &&
      previous.agent === agent.name &&
      (previous.status === "failed" || previous.status === "completed")
    ) {
      // The same agent again — a retry after a failure, or a wake-up after its turn ended (a
      // nudge, a human's answer): it goes on from its conversation, nothing done is replayed.
      const carried = await this.deps.runs.messages(previous.id);
      if (carried.length > 0) {
        const run = await this.deps.runs.startRun(attempt, carried, now);
        await this.#announceRun(session, run, agent);
        return run;
      }
    }
    const inputs = Object.entries(session.inputs)
      .map(([key, value]) => `- ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join("\n");
    const content = [
      `Goal: ${session.goal}`,
      inputs ? `Inputs:\n${inputs}` : null,
      handoff ? `From the previous agent:\n${handoff}` : null,
    ]
      .filter(Boolean)
      .join("\n\n");
    const run = await this.deps.runs.startRun(
      attempt,
      [{ idx: 0, role: "user", body: { role: "user", content } }],
      now,
    );
    await this.#announceRun(session, run, agent);
    return run;
  }

  async #announceRun(session: SessionRecord, run: AgentRunRecord, agent: SkillAgent): Promise<void> {
    await this.deps.facts.write(
      session.id,
      (await this.#fresh(session)).version,
      {},
      "agent_started",
      async (_trx, emit) => {
        emit({
          kind: "agent.started",
          sessionId: session.id,
          payload: { runId: run.id, agent: agent.name, attempt: run.attempt },
        });
      },
    );
  }

  async #systemPrompt(session: SessionRecord, agent: SkillAgent, loaded: LoadedSkillPack): Promise<string> {
    const lessons = await this.deps.lessonsFor(session);
    return [
      agent.prompt,
      `You work in a Shepherd session for the skill pack "${loaded.pack.name}".` +
        (session.repoId ? " Your tools read and change the session's repository." : ""),
      lessons ? `Lessons from similar past sessions:\n${lessons}` : null,
      ENVELOPE_INSTRUCTIONS,
    ]
      .filter(Boolean)
      .join("\n\n");
  }

  async #hasWorkInFlight(sessionId: string): Promise<boolean> {
    const db = this.deps.sessions.database;
    const proposal = await db
      .selectFrom("proposals")
      .select("id")
      .where("session_id", "=", sessionId)
      .where("status", "in", ["pending", "pr_opened"])
      .executeTakeFirst();
    if (proposal) return true;
    const pr = await db
      .selectFrom("pull_requests")
      .select("id")
      .where("session_id", "=", sessionId)
      .where("state", "=", "open")
      .executeTakeFirst();
    return pr !== undefined;
  }

  async #fresh(session: SessionRecord): Promise<SessionRecord> {
    const current = await this.deps.sessions.get(session.id);
    if (!current || current.outcome) throw new SessionGone();
    return current;
  }

  /** A facts write that survives a concurrent writer (re-read, re-apply), unless the session ended. */
  async #update(session: SessionRecord, patch: SessionFactsPatch, cause: string): Promise<SessionRecord> {
    let current = session;
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.deps.facts.write(current.id, current.version, patch, cause)).session;
      } catch (error) {
        if (!(error instanceof StaleVersionError) || attempt >= 4) throw error;
        current = await this.#fresh(current);
      }
    }
  }

  async #end(
    session: SessionRecord,
    outcome: SessionOutcome,
    cause: string,
    error?: SessionError,
    confidence?: number | null,
  ): Promise<void> {
    const now = this.deps.clock();
    const current = await this.deps.sessions.get(session.id);
    if (!current || current.outcome) return;
    await this.#update(
      current,
      {
        outcome,
        runState: "exited",
        pauseKind: null,
        endedAt: now,
        ...(error ? { lastError: error } : {}),
        ...(typeof confidence === "number" ? { lastConfidence: confidence } : {}),
      },
      cause,
    ).catch((failure: unknown) => {
      if (!(failure instanceof SessionGone)) throw failure;
    });
  }
}
