import type { Logger } from "pino";
import type { AgentsConfig } from "../../config/agents-schema.js";
import { AppError } from "../../domain/errors.js";
import type { Principal } from "../../domain/roles.js";
import { shouldRetry, type RetryDecision } from "../../domain/should-retry.js";
import { DeferJobError, type JobQueue } from "../../queue/job-queue.js";
import type { ApprovalRecord, ApprovalStore } from "../../store/approval-store.js";
import { newId } from "../../store/ids.js";
import type { RepoLocks } from "../../store/repo-locks.js";
import type { RepoStore } from "../../store/repo-store.js";
import type { SessionMessageStore } from "../../store/session-message-store.js";
import type { SessionFilter, SessionRecord, SessionStore } from "../../store/session-store.js";
import type { AgentRunRecord, AgentRunStore, ToolCallRecord } from "../../store/agent-run-store.js";
import { StaleVersionError } from "../../store/transitions.js";
import type { SessionStatus } from "../../domain/session-status.js";
import type { EventLog } from "../event-log.js";
import type { AgentRunner, LoadedSkillPack } from "./agent-runner.js";
import type { LessonRecord } from "../../store/lesson-store.js";
import type { LessonService, RetrievedLesson } from "../lesson-service.js";
import type { SessionFacts } from "./session-facts.js";

export const SESSION_RUN_QUEUE = "session.run";

export interface SessionRunJob {
  sessionId: string;
}

export interface SessionDetail {
  session: SessionRecord;
  status: SessionStatus;
  runs: AgentRunRecord[];
  toolCalls: ToolCallRecord[];
  approvals: ApprovalRecord[];
  proposals: { id: string; status: string; title: string; followUpOf: string | null }[];
  pullRequests: { id: string; number: number; url: string; state: string }[];
  /** The newest event of the session: follow the stream from here. */
  lastEventSeq: number | null;
}

export interface CreateSessionInput {
  goal: string;
  repoId?: string | undefined;
  agent: { skill: string };
  inputs?: Record<string, unknown> | undefined;
  environment?: string | undefined;
}

/** How long a busy session asks a caller to wait before trying again. */
const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * A decided approval resumes its session within moments; a session still waiting on one this long
 * after the decision lost its resume, and the watchdog queues it again (deduplicated).
 */
const LOST_RESUME_GRACE_MS = 10_000;

/** How often a write computed from a fresh read is tried again when another writer got in first. */
const STALE_WRITE_ATTEMPTS = 5;

/**
 * Sessions of built-in agents (SPEC C6): creating, stopping, answering, retrying them, and
 * deciding their approvals. Every change of a session goes through its lock (one holder at a
 * time, across processes in distributed mode): a caller who finds it held gets 429 SESSION_BUSY
 * with Retry-After instead of waiting, and the agent runs in a job that holds no worker while the
 * session waits for a human. `stop` alone needs no lock: it must reach a busy agent.
 */
export class SessionService {
  /** The runs of this process, by session: `stop` aborts them. */
  readonly #runs = new Map<string, AbortController>();

  constructor(
    private readonly deps: {
      sessions: SessionStore;
      facts: SessionFacts;
      approvals: ApprovalStore;
      messages: SessionMessageStore;
      repos: RepoStore;
      events: EventLog;
      queue: JobQueue;
      locks: RepoLocks;
      runner: AgentRunner;
      runs: AgentRunStore;
      lessons: LessonService;
      packs: ReadonlyMap<string, LoadedSkillPack>;
      config: AgentsConfig;
      clock: () => number;
      logger: Logger;
    },
  ) {}

  async create(input: CreateSessionInput, by: Principal | null): Promise<SessionRecord> {
    const loaded = this.deps.packs.get(input.agent.skill);
    if (!loaded) {
      const known = [...this.deps.packs.keys()];
      throw new AppError(
        "VALIDATION_ERROR",
        `unknown skill pack "${input.agent.skill}"; loaded: ${known.length === 0 ? "none" : known.join(", ")}`,
        { details: { issues: [{ path: "body.agent.skill", message: "unknown skill pack" }] } },
      );
    }
    let repoId: string | null = null;
    if (input.repoId !== undefined) {
      const repo =
        (await this.deps.repos.get(input.repoId)) ?? (await this.deps.repos.getByName(input.repoId));
      if (!repo)
        throw new AppError("REPO_NOT_FOUND", `no repo ${input.repoId}`, { details: { field: "repoId" } });
      repoId = repo.id;
    }
    const environment = input.environment ?? null;
    if (environment !== null && !this.deps.config.environments.includes(environment)) {
      throw new AppError(
        "VALIDATION_ERROR",
        `unknown environment "${environment}"; configured: ${this.deps.config.environments.join(", ")}`,
        { details: { issues: [{ path: "body.environment", message: "not in agents.environments" }] } },
      );
    }
    const inputs = this.#inputs(loaded, input.inputs ?? {});
    const now = this.deps.clock();
    const { result } = await this.deps.events.transaction(async (trx, emit) => {
      const session = await this.deps.sessions.create(
        {
          goal: input.goal,
          repoId,
          branch: null,
          agent: { skill: loaded.pack.name },
          runState: "queued",
          createdBy: by?.tokenId ?? null,
          skill: loaded.pack.name,
          inputs,
          environment,
          currentAgent: loaded.pack.entry,
          queuedAt: now,
        },
        now,
        trx,
      );
      emit({
        kind: "session.created",
        sessionId: session.id,
        payload: { goal: session.goal, skill: session.skill, repoId, environment },
      });
      await this.deps.facts.announceWithin(trx, emit, session, "created", now);
      return session;
    });
    await this.wake(result.id);
    return (await this.deps.sessions.get(result.id)) ?? result;
  }

  #inputs(loaded: LoadedSkillPack, given: Record<string, unknown>): Record<string, unknown> {
    const issues: { path: string; message: string }[] = [];
    const inputs: Record<string, unknown> = {};
    for (const [name, spec] of loaded.pack.inputs) {
      const value = Object.hasOwn(given, name) ? given[name] : spec.default;
      if (value === undefined || value === null) {
        if (spec.required)
          issues.push({ path: `body.inputs.${name}`, message: "required by the skill pack" });
        continue;
      }
      inputs[name] = value;
    }
    for (const name of Object.keys(given)) {
      if (!loaded.pack.inputs.has(name))
        issues.push({ path: `body.inputs.${name}`, message: "not an input of the skill pack" });
    }
    if (issues.length > 0) {
      throw new AppError("VALIDATION_ERROR", `invalid inputs for skill pack "${loaded.pack.name}"`, {
        details: { issues },
      });
    }
    return inputs;
  }

  async get(id: string): Promise<SessionRecord> {
    const session = await this.deps.sessions.get(id);
    if (!session) throw new AppError("SESSION_NOT_FOUND", `no session ${id}`);
    return session;
  }

  list(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.deps.sessions.list(filter);
  }

  count(filter: Omit<SessionFilter, "before" | "limit">): Promise<number> {
    return this.deps.sessions.count(filter);
  }

  /**
   * A session's lessons (SPEC C6): the one extracted from it when it ended, and the ones a new
   * session like it would be given (what its first agent received, ranked the same way now).
   */
  async lessons(id: string): Promise<{ extracted: LessonRecord[]; similar: RetrievedLesson[] }> {
    const session = await this.get(id);
    const [extracted, similar] = await Promise.all([
      this.deps.lessons.listBySession(id),
      this.deps.lessons.retrieveFor(
        {
          goal: session.goal,
          inputs: session.inputs,
          skill: session.skill,
          repoId: session.repoId,
          excludeSessionId: id,
        },
        this.deps.config.lessons.topK,
      ),
    ]);
    return { extracted, similar };
  }

  /** The status a session shows, derived now from its facts and its PRs. */
  status(session: SessionRecord): Promise<SessionStatus> {
    return this.deps.facts.status(session);
  }

  /** Everything about one session (SPEC C6 API): facts, status, runs, calls, approvals, work, stream position. */
  async detail(id: string): Promise<SessionDetail> {
    const session = await this.get(id);
    const db = this.deps.sessions.database;
    const [status, runs, toolCalls, approvals, proposals, prs, last] = await Promise.all([
      this.status(session),
      this.deps.runs.listRuns(id),
      this.deps.runs.listToolCalls(id),
      this.deps.approvals.list({ sessionId: id, limit: 1000 }),
      db
        .selectFrom("proposals")
        .select(["id", "status", "title", "follow_up_of as followUpOf"])
        .where("session_id", "=", id)
        .orderBy("id")
        .execute(),
      db
        .selectFrom("pull_requests")
        .select(["id", "number", "url", "state"])
        .where("session_id", "=", id)
        .orderBy("id")
        .execute(),
      db
        .selectFrom("events")
        .select("seq")
        .where("session_id", "=", id)
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst(),
    ]);
    return {
      session,
      status,
      runs,
      toolCalls,
      approvals,
      proposals,
      pullRequests: prs.map((pr) => ({ ...pr, number: Number(pr.number) })),
      lastEventSeq: last ? Number(last.seq) : null,
    };
  }

  /** Runs `work` holding the session's lock; a held lock is 429 SESSION_BUSY for the caller. */
  async #locked<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const lock = await this.deps.locks.tryAcquire(sessionId);
    if (!lock) {
      throw new AppError("SESSION_BUSY", `session ${sessionId} is busy; try again shortly`, {
        retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
      });
    }
    try {
      return await work();
    } finally {
      await lock.release();
    }
  }

  /**
   * Writes a patch computed from the session as it is now; a concurrent write (the agent's, an
   * observation's) makes it read again and decide again, never clobber and never fail the caller.
   */
  async #writeFresh(
    id: string,
    patchFor: (current: SessionRecord) => Parameters<SessionFacts["write"]>[2] | null,
    cause: string,
  ): Promise<SessionRecord> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(id);
      const patch = patchFor(current);
      if (patch === null) return current;
      try {
        return (await this.deps.facts.write(id, current.version, patch, cause)).session;
      } catch (error) {
        if (!(error instanceof StaleVersionError) || attempt >= STALE_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Ends the session `stopped`. It takes no lock — an operator must be able to stop an agent that
   * is busy (or stuck) in a call: the ending is written, a run of this process is aborted, and a
   * run elsewhere stops at its next step when it reads the outcome.
   */
  async stop(id: string, by: Principal | null): Promise<SessionRecord> {
    const session = await this.#writeFresh(
      id,
      (current) =>
        current.outcome
          ? null
          : {
              outcome: { kind: "stopped", detail: by?.tokenId ?? "system" },
              runState: "exited",
              pauseKind: null,
              endedAt: this.deps.clock(),
            },
      "stopped",
    );
    this.#runs.get(id)?.abort(new Error(`session ${id} was stopped`));
    await this.#promote();
    return session;
  }

  /** A human's message to the session's agent (an answer, an instruction); it wakes the agent. */
  async send(id: string, text: string, by: Principal | null): Promise<{ messageId: string }> {
    const session = await this.get(id);
    if (session.outcome) {
      throw new AppError("INVALID_STATE_TRANSITION", `session ${id} has ended (${session.outcome.kind})`);
    }
    const now = this.deps.clock();
    const { result } = await this.deps.events.transaction(async (trx) => {
      const { record } = await this.deps.messages.insertOnce(
        trx,
        {
          sessionId: id,
          kind: "input",
          source: by?.tokenId ? `token:${by.tokenId}` : "human",
          text,
          fullText: null,
          prId: null,
          dedupKey: newId("in", now),
        },
        now,
      );
      return record;
    });
    await this.wake(id);
    return { messageId: result.id };
  }

  async decideApproval(
    approvalId: string,
    decision: { decision: "approve" | "reject"; rationale?: string | undefined },
    by: Principal | null,
  ): Promise<ApprovalRecord> {
    const approval = await this.deps.approvals.get(approvalId);
    if (!approval) throw new AppError("APPROVAL_NOT_FOUND", `no approval ${approvalId}`);
    const decided = await this.#locked(approval.sessionId, () =>
      this.#decide(
        approval,
        decision.decision === "approve" ? "approved" : "rejected",
        by?.tokenId ?? "unknown",
        decision.rationale ?? null,
      ),
    );
    await this.wake(approval.sessionId);
    return decided;
  }

  async #decide(
    approval: ApprovalRecord,
    state: "approved" | "rejected" | "timed_out",
    by: string,
    rationale: string | null,
  ): Promise<ApprovalRecord> {
    const now = this.deps.clock();
    const { result } = await this.deps.events.transaction(async (trx, emit) => {
      const decided = await this.deps.approvals.decide(approval.id, { state, by, rationale }, now, trx);
      if (!decided) return null;
      emit({
        kind: "approval.decided",
        sessionId: approval.sessionId,
        payload: { approvalId: approval.id, toolCallId: approval.toolCallId, decision: state, by, rationale },
      });
      return decided;
    });
    if (!result) {
      const current = await this.deps.approvals.get(approval.id);
      throw new AppError(
        "APPROVAL_ALREADY_DECIDED",
        `approval ${approval.id} was already decided (${current?.state})`,
        {
          details: { state: current?.state ?? null },
        },
      );
    }
    return result;
  }

  listApprovals(filter: {
    state?: ApprovalRecord["state"];
    sessionId?: string;
    limit: number;
  }): Promise<ApprovalRecord[]> {
    return this.deps.approvals.list(filter);
  }

  async retryPreview(id: string): Promise<RetryDecision> {
    return this.#retryDecision(await this.get(id));
  }

  #retryDecision(session: SessionRecord): RetryDecision {
    if (session.outcome?.kind !== "failed") {
      throw new AppError(
        "INVALID_STATE_TRANSITION",
        `session ${session.id} is ${session.outcome ? session.outcome.kind : "not finished"}; only a failed session can be retried`,
        { details: { outcome: session.outcome?.kind ?? null } },
      );
    }
    return shouldRetry(
      session.retryCount,
      session.lastError?.code ?? null,
      session.lastConfidence,
      this.deps.config.retry,
    );
  }

  async retry(id: string): Promise<{ decision: RetryDecision; session: SessionRecord }> {
    const result = await this.#locked(id, async () => {
      // Decided on the very record whose version the write expects.
      const session = await this.get(id);
      const decision = this.#retryDecision(session);
      if (!decision.retry) return { decision, session };
      const now = this.deps.clock();
      const written = await this.deps.facts.write(
        id,
        session.version,
        {
          outcome: null,
          runState: "queued",
          queuedAt: now,
          retryCount: session.retryCount + 1,
          endedAt: null,
        },
        "retried",
      );
      return { decision, session: written.session };
    });
    if (result.decision.retry) await this.wake(id);
    return result;
  }

  /** The job handler: runs the session's agent while holding its lock. */
  async runJob(sessionId: string, signal: AbortSignal): Promise<void> {
    const lock = await this.deps.locks.tryAcquire(sessionId);
    if (!lock) throw new DeferJobError(500, `session ${sessionId} is busy`);
    // `stop` aborts this run; so does the job's own signal (shutdown, a lost lease).
    const run = new AbortController();
    const onJobAbort = () => run.abort(signal.reason);
    signal.addEventListener("abort", onJobAbort, { once: true });
    this.#runs.set(sessionId, run);
    let stop;
    try {
      stop = await this.deps.runner.run(sessionId, run.signal);
    } catch (error) {
      // Stopped while it ran: the ending is written; nothing is left to retry.
      if (!signal.aborted && run.signal.aborted) stop = "finished" as const;
      else throw error;
    } finally {
      signal.removeEventListener("abort", onJobAbort);
      if (this.#runs.get(sessionId) === run) this.#runs.delete(sessionId);
      await lock.release();
    }
    // Only a run that ended, paused or went idle frees a slot for a queued session; promoting
    // after a run with nothing to do would wake the same queued session over and over.
    if (stop === "finished" || stop === "paused" || stop === "idle") await this.#promote();
  }

  /**
   * The approval watchdog (SPEC C6): reads expired pending approvals from the database — so it
   * works after any restart — decides them `timeout`, and resumes their sessions: a rejected
   * call (the agent goes on) or, with `onTimeout: escalate`, a session handed to humans. It also
   * resumes sessions whose approval was decided but whose resume was lost (the process stopped,
   * or the enqueue failed, after the decision committed): they would wait for an answer they have.
   */
  async expireApprovals(limit = 100): Promise<number> {
    const expired = await this.deps.approvals.listExpired(this.deps.clock(), limit);
    let decided = 0;
    for (const approval of expired) {
      try {
        await this.#locked(approval.sessionId, async () => {
          await this.#decide(approval, "timed_out", "system", "the approval window expired");
          if (this.deps.config.approvals.onTimeout === "escalate") {
            await this.#writeFresh(
              approval.sessionId,
              (session) =>
                session.outcome
                  ? null
                  : {
                      outcome: { kind: "escalated", detail: "approval timed out" },
                      runState: "exited",
                      pauseKind: null,
                      endedAt: this.deps.clock(),
                    },
              "approval_timeout",
            );
          }
        });
        decided += 1;
        await this.wake(approval.sessionId);
      } catch (error) {
        // Busy or decided meanwhile: the next scan looks again.
        if (!(error instanceof AppError)) throw error;
      }
    }
    const stranded = await this.deps.approvals.listDecidedNotResumed(
      this.deps.clock() - LOST_RESUME_GRACE_MS,
      limit,
    );
    for (const approval of stranded) await this.wake(approval.sessionId, `resume:${approval.id}`);
    // The same for other wake-ups a stop between commit and enqueue can lose: messages nobody
    // read, and queued sessions while slots are free.
    const unread = await this.deps.messages.sessionsWithStaleUnread(
      this.deps.clock() - LOST_RESUME_GRACE_MS,
      limit,
    );
    for (const sessionId of unread) await this.wake(sessionId, `unread:${sessionId}`);
    await this.#promote();
    return decided;
  }

  /** Schedules a run of the session's agent (a run with nothing to do ends at once). */
  async wake(sessionId: string, dedupKey?: string): Promise<void> {
    await this.deps.queue.enqueue(SESSION_RUN_QUEUE, { sessionId } satisfies SessionRunJob, {
      maxAttempts: 5,
      dedupKey,
    });
  }

  /** Starts queued sessions while running slots are free (oldest first). */
  async #promote(): Promise<void> {
    const free = this.deps.config.maxRunningSessions - (await this.deps.sessions.countRunning());
    if (free <= 0) return;
    for (const session of await this.deps.sessions.listQueued(free)) await this.wake(session.id);
  }
}
