import path from "node:path";
import type { Logger } from "pino";
import type { LlmClient } from "../../agents/llm/llm-port.js";
import type { McpConnections } from "../../agents/mcp/mcp-connections.js";
import type { McpServerConfig } from "../../agents/mcp/mcp-server-config.js";
import { loadSkillPacks } from "../../agents/skills/load-skill-pack.js";
import {
  BUILTIN_SERVER,
  type SkillMcpServer,
  type SkillPack,
  type SkillValue,
} from "../../agents/skills/skill-pack.js";
import { resolveSkillTools } from "../../agents/skills/validate-skill-tools.js";
import { BUILTIN_TOOLS, type BuiltinToolContext } from "../../agents/tools/builtin-tools.js";
import { RepoReader } from "../../agents/tools/repo-reader.js";
import type { Config } from "../../config/config-schema.js";
import type { SecretRedactor } from "../../domain/redact.js";
import { gitRemoteUrl } from "../../config/github-urls.js";
import { formatSecretRef } from "../../config/secret-ref.js";
import type { GitRunner } from "../../git/git-runner.js";
import type { JobQueue } from "../../queue/job-queue.js";
import { AgentRunStore } from "../../store/agent-run-store.js";
import { ApprovalStore } from "../../store/approval-store.js";
import type { Database } from "../../store/database.js";
import { LessonStore } from "../../store/lesson-store.js";
import { PostgresRepoLocks } from "../../store/postgres-repo-locks.js";
import { PullRequestStore, type PullRequestRecord } from "../../store/pull-request-store.js";
import { InProcessRepoLocks, type RepoLocks } from "../../store/repo-locks.js";
import type { RepoStore } from "../../store/repo-store.js";
import { SessionMessageStore } from "../../store/session-message-store.js";
import { SessionStore, type SessionRecord } from "../../store/session-store.js";
import type { EventLog } from "../event-log.js";
import { LessonService } from "../lesson-service.js";
import { followUpOpensItself, type ProposalService } from "../proposal-service.js";
import type { Notifier } from "../notifier.js";
import type { SecretReader } from "../secrets.js";
import { AgentRunner, type LoadedSkillPack } from "./agent-runner.js";
import { SessionFacts } from "./session-facts.js";
import { SESSION_RUN_QUEUE, SessionService, type SessionRunJob } from "./session-service.js";

export interface Sessions {
  service: SessionService;
  facts: SessionFacts;
  packs: ReadonlyMap<string, LoadedSkillPack>;
  /** Registers the run handler and starts the approval watchdog (worker and all processes). */
  startWorkers(): Promise<void>;
  close(): Promise<void>;
}

async function secretValue(value: SkillValue, secrets: SecretReader): Promise<string> {
  if (typeof value === "string") return value;
  return `${value.prefix}${await secrets.read(formatSecretRef(value.secret))}`;
}

async function mcpConfig(
  pack: SkillPack,
  server: SkillMcpServer,
  secrets: SecretReader,
): Promise<McpServerConfig> {
  const resolve = async (values: ReadonlyMap<string, SkillValue>): Promise<Record<string, string>> =>
    Object.fromEntries(
      await Promise.all(
        [...values].map(async ([key, value]) => [key, await secretValue(value, secrets)] as const),
      ),
    );
  const timeoutMs = server.timeoutSeconds * 1000;
  return server.transport === "stdio"
    ? {
        name: server.name,
        transport: "stdio",
        command: server.command,
        args: [...server.args],
        cwd: pack.dir,
        env: await resolve(server.env),
        timeoutMs,
      }
    : {
        name: server.name,
        transport: "http",
        url: server.url,
        headers: await resolve(server.headers),
        timeoutMs,
      };
}

/**
 * Loads the skill packs of `agents.skillPacks` and, in processes that run agents, connects their
 * MCP servers and checks every agent's tools against what the servers offer: a pack that does
 * not validate stops the server with the file and line (SPEC C6).
 */
async function loadPacks(
  config: Config,
  secrets: SecretReader,
  runsAgents: boolean,
  logger: Logger,
): Promise<Map<string, LoadedSkillPack>> {
  const packs = await loadSkillPacks(config.agents.skillPacks, { models: [...config.llm.models.keys()] });
  const loaded = new Map<string, LoadedSkillPack>();
  try {
    for (const pack of packs) {
      let mcp: McpConnections | null = null;
      if (runsAgents && pack.mcpServers.size > 0) {
        const configs = await Promise.all(
          [...pack.mcpServers.values()].map((server) => mcpConfig(pack, server, secrets)),
        );
        // Loaded on demand: a server without MCP servers never pays for the SDK at start.
        const { McpConnections: Connections } = await import("../../agents/mcp/mcp-connections.js");
        mcp = await Connections.connect(configs, { clientName: `shepherd:${pack.name}`, logger });
      }
      const mcpTools = mcp?.tools() ?? [];
      const available = [
        ...BUILTIN_TOOLS.map((tool) => ({ server: BUILTIN_SERVER, name: tool.name })),
        ...mcpTools.map((tool) => ({ server: tool.server, name: tool.name })),
      ];
      const agentTools = runsAgents ? resolveSkillTools(pack, available) : new Map();
      loaded.set(pack.name, { pack, agentTools, mcp, mcpTools });
    }
  } catch (error) {
    await Promise.all([...loaded.values()].map((entry) => entry.mcp?.close() ?? Promise.resolve()));
    throw error;
  }
  return loaded;
}

export async function createSessions(deps: {
  config: Config;
  database: Database;
  events: EventLog;
  queue: JobQueue;
  secrets: SecretReader;
  repos: RepoStore;
  proposals: ProposalService;
  git: GitRunner;
  notifier: Notifier;
  /** Scrubs known secrets from what agents and tools say before it is stored. */
  redactor: SecretRedactor;
  runsAgents: boolean;
  logger: Logger;
  clock?: () => number;
}): Promise<Sessions> {
  const { config, database, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const packs = await loadPacks(config, deps.secrets, deps.runsAgents, logger);
  const sessions = new SessionStore(database.db);
  const lessons = new LessonService({
    store: new LessonStore(database.db, database.dialect),
    logger,
    events: deps.events,
  });
  // Every ending teaches: the lesson is extracted once the outcome is committed (never fatal).
  const facts = new SessionFacts({
    sessions,
    events: deps.events,
    clock,
    onTerminal: async (sessionId) => {
      await lessons.extractOnTerminal(sessionId);
    },
  });
  const approvals = new ApprovalStore(database.db);
  const messages = new SessionMessageStore(database.db);
  const reader = new RepoReader(deps.git, path.join(config.home, "mirrors"));
  const clients = new Map<string, Promise<LlmClient>>();
  const locks: RepoLocks =
    config.database.kind === "postgres"
      ? new PostgresRepoLocks(config.database.url, 16, "session")
      : new InProcessRepoLocks();

  const pullRequests = new PullRequestStore(database.db);
  /** A follow-up's target as the agent names it: a PR id, or a number in the session's repo. */
  const followUpTarget = async (repoId: string, ref: string | number): Promise<string> => {
    const number = typeof ref === "number" ? ref : /^#?\d+$/.test(ref) ? Number(ref.replace("#", "")) : null;
    if (number === null) return ref as string;
    const found = await pullRequests.findByNumber(repoId, number);
    if (!found) throw new Error(`pull request #${number} is not tracked for this session's repo`);
    return found.id;
  };
  /** What agents read: the branch of the session's newest open PR, else its own branch or the base. */
  const openPrOf = async (session: SessionRecord): Promise<PullRequestRecord | null> => {
    if (!session.repoId) return null;
    const open = await pullRequests.list(
      { sessionId: session.id, repoId: session.repoId, state: "open" },
      { limit: 1 },
    );
    return open[0] ?? null;
  };

  const toolContext = async (session: SessionRecord, toolCallId: string): Promise<BuiltinToolContext> => {
    const repo = session.repoId ? await deps.repos.get(session.repoId) : null;
    const target = async () => {
      if (!repo) throw new Error("this session has no repository");
      return {
        repoId: repo.id,
        remoteUrl: gitRemoteUrl(config.github, repo.owner, repo.repo),
        auth: { remoteBase: config.github.webUrl, token: await deps.secrets.read(repo.tokenRef) },
      };
    };
    const ownPr = await openPrOf(session);
    const readRef =
      (ownPr && ownPr.headRepo === `${repo?.owner}/${repo?.repo}` ? ownPr.headRef : null) ??
      session.branch ??
      repo?.baseBranch ??
      null;
    return {
      sessionId: session.id,
      repoId: repo?.id ?? null,
      readRef,
      toolCallId,
      teams: config.agents.teams,
      readFile: async (filePath) => reader.readFile(await target(), readRef ?? "main", filePath),
      searchCode: async (query, prefix) => reader.search(await target(), readRef ?? "main", query, prefix),
      submitProposal: async (input) => {
        if (!repo) throw new Error("this session has no repository to propose a change to");
        const proposal = await deps.proposals.create(
          {
            repoId: repo.id,
            sessionId: session.id,
            title: input.title,
            kind: input.kind,
            change: input.change,
            evidence: input.evidence,
            followUpOf:
              input.followUpOf === undefined ? null : await followUpTarget(repo.id, input.followUpOf),
          },
          null,
        );
        // A follow-up the repo trusts is already on its way; anything else was approved by this call.
        if (proposal.openJobId === null) await deps.proposals.openPr(proposal.id, null);
        return proposal.followUpOf
          ? {
              proposalId: proposal.id,
              status: "pending",
              followUpOf: proposal.followUpOf,
              note: "the change is being committed on the pull request's branch",
            }
          : { proposalId: proposal.id, status: "pending", note: "the pull request is being opened" };
      },
    };
  };

  const runs = new AgentRunStore(database.db, (value) => deps.redactor.redactDeep(value));
  const runner = new AgentRunner({
    sessions,
    facts,
    runs,
    approvals,
    messages,
    packs,
    llmFor: (model) => {
      let client = clients.get(model);
      if (!client) {
        // The AI SDK is loaded with the first model call, not at start.
        client = import("../../agents/llm/create-llm-client.js").then(({ createLlmClient }) =>
          createLlmClient(config.llm, model, { readSecret: (ref) => deps.secrets.read(ref) }),
        );
        clients.set(model, client);
        client.catch(() => clients.delete(model));
      }
      return client;
    },
    toolContext,
    approvedFollowUp: async (session, args) => {
      const ref = (args as { followUpOf?: unknown }).followUpOf;
      if (!session.repoId || (typeof ref !== "string" && typeof ref !== "number")) return false;
      try {
        const repo = await deps.repos.get(session.repoId);
        if (!repo) return false;
        const target = await deps.proposals.followUpTarget(repo, await followUpTarget(repo.id, ref));
        // Only the session's own PR: an agent never inherits the trust given to another's.
        return target.sessionId === session.id && followUpOpensItself(repo, target);
      } catch {
        return false;
      }
    },
    lessonsFor: async (session) => {
      if (config.agents.lessons.topK === 0) return "";
      const found = await lessons.retrieveFor(
        {
          goal: session.goal,
          inputs: session.inputs,
          skill: session.skill,
          repoId: session.repoId,
          excludeSessionId: session.id,
        },
        config.agents.lessons.topK,
      );
      return found.map((lesson) => `- (${lesson.outcome.kind}) ${lesson.summary}`).join("\n");
    },
    notifier: deps.notifier,
    gate: config.agents.gate,
    approvalTimeoutMs: config.agents.approvals.timeoutSeconds * 1000,
    maxRunningSessions: config.agents.maxRunningSessions,
    clock,
    logger,
  });
  const service = new SessionService({
    sessions,
    facts,
    approvals,
    messages,
    repos: deps.repos,
    events: deps.events,
    queue: deps.queue,
    locks,
    runner,
    runs,
    lessons,
    packs,
    config: config.agents,
    clock,
    logger,
  });

  let watchdog: NodeJS.Timeout | null = null;
  let backfillTimer: NodeJS.Timeout | null = null;
  return {
    service,
    facts,
    packs,
    async startWorkers() {
      await deps.queue.work<SessionRunJob>(
        SESSION_RUN_QUEUE,
        { concurrency: config.agents.maxRunningSessions },
        (job) => service.runJob(job.payload.sessionId, job.signal),
      );
      // Lessons of sessions that ended without one (a crash, an older extractor): at start and
      // every 24 hours; idempotent, so several workers doing it at once add nothing twice.
      const backfill = (): void => {
        lessons
          .backfill({ windowDays: config.agents.lessons.backfillWindowDays })
          .then((result) => {
            if (result.added > 0) logger.info(result, "lessons back-filled");
          })
          .catch((error: unknown) => logger.warn({ err: error }, "lesson back-fill failed"));
      };
      backfill();
      backfillTimer = setInterval(backfill, 24 * 60 * 60_000);
      backfillTimer.unref();
      const scan = (): void => {
        service
          .expireApprovals()
          .catch((error: unknown) => logger.warn({ err: error }, "approval watchdog scan failed"));
      };
      scan();
      watchdog = setInterval(scan, config.agents.approvals.scanIntervalSeconds * 1000);
      watchdog.unref();
    },
    async close() {
      if (watchdog) clearInterval(watchdog);
      if (backfillTimer) clearInterval(backfillTimer);
      await Promise.all([...packs.values()].map((entry) => entry.mcp?.close() ?? Promise.resolve()));
      await locks.close();
    },
  };
}
