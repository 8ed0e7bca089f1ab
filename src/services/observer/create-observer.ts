import type { Config } from "../../config/config-schema.js";
import type { Database } from "../../store/database.js";
import type { GitHubClients } from "../../github/github-client.js";
import { GitHubObserverClient } from "../../github/observer-client.js";
import type { Logger } from "../../observability/logger.js";
import type { Metrics } from "../../observability/metrics.js";
import type { PullRequestStore } from "../../store/pull-request-store.js";
import { RepoObservationStore } from "../../store/repo-observation-store.js";
import type { RepoStore } from "../../store/repo-store.js";
import type { SessionFacts } from "../sessions/session-facts.js";
import { SessionStore } from "../../store/session-store.js";
import { WebhookDeliveryStore } from "../../store/webhook-delivery-store.js";
import type { EventLog } from "../event-log.js";
import type { Notifier } from "../notifier.js";
import type { SecretReader } from "../secrets.js";
import { SessionMessenger } from "../session-messenger.js";
import { ObservationWriter } from "./observation-writer.js";
import { PostgresLeadership, SoleLeadership } from "./observer-leadership.js";
import { PrObserver } from "./pr-observer.js";
import { ReactionExecutor } from "./reaction-executor.js";
import { ReactionRunner } from "./reaction-runner.js";

/** How long delivery ids are kept to recognise replays (GitHub redelivers for a few days at most). */
const DELIVERY_MEMORY_MS = 14 * 24 * 60 * 60_000;

/** Builds the PR observer and its reactions from the process's adapters (used by the composition root). */
export function createObserver(deps: {
  config: Config;
  database: Database;
  repos: RepoStore;
  pullRequests: PullRequestStore;
  events: EventLog;
  secrets: SecretReader;
  github: GitHubClients;
  notifier: Notifier;
  metrics: Metrics;
  logger: Logger;
  /** Test hook: the observer's clock (cadences, cooldowns, escalation times). */
  now?: () => number;
  /** The session side of observations (status, `merged`), and waking an agent on a nudge. */
  sessionFacts?: SessionFacts;
  wakeSession?: (sessionId: string) => Promise<void>;
}): PrObserver {
  const { config, database, events, logger, metrics } = deps;
  const sessions = new SessionStore(database.db);
  const now = deps.now ?? Date.now;
  const executor = new ReactionExecutor({
    messenger: new SessionMessenger(events, now, deps.wakeSession),
    notifier: deps.notifier,
    events,
    logger,
    onNudge: (reaction, outcome) => metrics.nudges.inc({ reaction, outcome }),
  });
  return new PrObserver({
    repos: deps.repos,
    pullRequests: deps.pullRequests,
    repoObservations: new RepoObservationStore(database.db),
    sessions,
    events,
    secrets: deps.secrets,
    scmFor: (token) => new GitHubObserverClient(deps.github.forToken(token, "observer"), deps.github.budget),
    writer: new ObservationWriter(events, deps.sessionFacts),
    reactions: new ReactionRunner({
      db: database.db,
      pullRequests: deps.pullRequests,
      sessions,
      executor,
      reactions: config.reactions,
      logger,
    }),
    config: config.observer,
    leadership:
      config.database.kind === "postgres"
        ? new PostgresLeadership(config.database.url)
        : new SoleLeadership(),
    logger,
    now,
    housekeeping: async (at) => {
      const forgotten = await new WebhookDeliveryStore(database.db).pruneReceivedBefore(
        at - DELIVERY_MEMORY_MS,
      );
      if (forgotten > 0) logger.debug({ forgotten }, "old webhook delivery ids forgotten");
    },
    onPass: (report) => {
      metrics.observerPassDuration.observe(
        { kind: report.kind },
        (report.finishedAt - report.startedAt) / 1000,
      );
      metrics.observerFetched.inc({ kind: report.kind }, report.fetched);
    },
  });
}
