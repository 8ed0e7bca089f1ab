import type { ObserverConfig } from "../../config/reactions-schema.js";
import { cooldownMs } from "../../domain/cooldown.js";
import { logTail } from "../../domain/nudge-text.js";
import { planObservation, type FetchReason } from "../../domain/observation-plan.js";
import { checksNeedingLogTail, type PrObservation } from "../../domain/pull-request.js";
import { webhookHealthy } from "../../domain/webhook-health.js";
import { GitHubError, RateLimited } from "../../github/github-errors.js";
import { tokenFingerprint } from "../../github/token-fingerprint.js";
import type { Logger } from "../../observability/logger.js";
import type { PullRequestRecord, PullRequestStore } from "../../store/pull-request-store.js";
import type { RepoObservationRecord, RepoObservationStore } from "../../store/repo-observation-store.js";
import type { RepoRecord, RepoStore } from "../../store/repo-store.js";
import type { SessionStore } from "../../store/session-store.js";
import { StaleVersionError } from "../../store/transitions.js";
import type { EventLog } from "../event-log.js";
import type { SecretReader } from "../secrets.js";
import type { ObservationWriter } from "./observation-writer.js";
import type { ReactionRunner } from "./reaction-runner.js";
import type { ObserverScm, OpenPullSummary, PullToFetch } from "./scm-port.js";

/** `poll`: the periodic pass (lists due repos). `dirty`: a webhook's targeted refresh. */
export type PassKind = "poll" | "dirty";

export interface PassReport {
  kind: PassKind;
  startedAt: number;
  finishedAt: number;
  reposListed: number;
  /** Primary (REST core) points spent: list pages answered 200 and job-log reads. */
  restCost: number;
  graphqlCost: number;
  graphqlQueries: number;
  fetched: number;
  fetchReasons: Partial<Record<FetchReason, number>>;
  logTailsFetched: number;
  tracked: number;
  effects: number;
  /** The pass stopped early because a token was rate-limited. */
  rateLimited: boolean;
  errors: number;
}

export interface ObserverPassDeps {
  repos: RepoStore;
  pullRequests: PullRequestStore;
  repoObservations: RepoObservationStore;
  sessions: SessionStore;
  events: EventLog;
  secrets: SecretReader;
  scmFor: (token: string) => ObserverScm;
  writer: ObservationWriter;
  reactions: ReactionRunner;
  config: ObserverConfig;
  logger: Logger;
}

interface RepoAccess {
  repo: RepoRecord;
  state: RepoObservationRecord | null;
  scm: ObserverScm;
  fingerprint: string;
}

/** At most this many job logs are read per pass (each costs a REST point). */
const LOG_TAILS_PER_PASS = 20;

/** Ends a pass early: a token was rate-limited, or the observer is stopping. */
class StopPass extends Error {}

/**
 * One observer pass (SPEC C4 loop): guard each due repo with its ETag-conditional open list,
 * fetch with GraphQL only what changed, is new, vanished, was marked dirty by a webhook or is
 * stale, persist, react, acknowledge. A rate limit cools the token down and ends the pass; an
 * auth failure marks the repo unhealthy and the pass goes on; a failed fetch never reads as a
 * closed PR.
 */
export class ObserverPass {
  readonly #cooldowns: Map<string, number>;

  constructor(
    private readonly deps: ObserverPassDeps,
    cooldowns: Map<string, number>,
    private readonly now: () => number,
    /** Aborted when the observer stops: calls in flight end at once instead of at their deadline. */
    private readonly stopSignal: AbortSignal,
  ) {
    this.#cooldowns = cooldowns;
  }

  /** Each GitHub call's own deadline (SPEC C4: 15 s by default), cut short by a stop. */
  #deadline(): AbortSignal {
    return AbortSignal.any([
      AbortSignal.timeout(this.deps.config.requestTimeoutSeconds * 1000),
      this.stopSignal,
    ]);
  }

  webhookHealthy(state: RepoObservationRecord | null, now: number): boolean {
    return webhookHealthy(state, now, this.deps.config.webhookHealthySeconds * 1000);
  }

  #due(state: RepoObservationRecord | null, now: number): boolean {
    if (!state || state.lastPolledAt === null || state.dirtyAt !== null) return true;
    const seconds = this.webhookHealthy(state, now)
      ? this.deps.config.reconcileIntervalSeconds
      : this.deps.config.intervalSeconds;
    // A little slack so a timer that fires a few ms early does not skip a whole interval.
    return now - state.lastPolledAt >= seconds * 1000 - 500;
  }

  async run(kind: PassKind): Promise<PassReport> {
    const report: PassReport = {
      kind,
      startedAt: this.now(),
      finishedAt: 0,
      reposListed: 0,
      restCost: 0,
      graphqlCost: 0,
      graphqlQueries: 0,
      fetched: 0,
      fetchReasons: {},
      logTailsFetched: 0,
      tracked: 0,
      effects: 0,
      rateLimited: false,
      errors: 0,
    };
    try {
      const access = await this.#access(report.startedAt);
      const lists = await this.#lists(kind, access, report);
      const fetched = await this.#observe(access, lists, report);
      await this.#sweep(access, fetched, report);
      if (kind === "poll") await this.#sessionSweep(access, report);
    } catch (error) {
      if (!(error instanceof StopPass)) throw error;
    }
    report.finishedAt = this.now();
    return report;
  }

  #rateLimited(fingerprint: string, error: RateLimited, report: PassReport): never {
    const until = this.now() + cooldownMs(error.retryAfterSeconds);
    this.#cooldowns.set(fingerprint, until);
    this.deps.logger.warn(
      { token: fingerprint, until: new Date(until).toISOString() },
      "GitHub rate-limited the observer; token cooling down, rest of the pass skipped",
    );
    report.rateLimited = true;
    throw new StopPass();
  }

  async #setHealth(
    repo: RepoRecord,
    state: RepoObservationRecord | null,
    health: RepoObservationRecord["health"],
    reason: string | null,
    failedToken: string | null,
  ): Promise<void> {
    const now = this.now();
    if (state?.health === health && state.healthReason === reason && state.failedToken === failedToken)
      return;
    await this.deps.repoObservations.update(
      repo.id,
      { health, healthReason: reason, healthSince: now, failedToken },
      now,
    );
    if ((state?.health ?? "unknown") !== health) {
      await this.deps.events.append({
        kind: "repo.health_changed",
        payload: { repoId: repo.id, repo: repo.name, from: state?.health ?? "unknown", to: health, reason },
      });
      const level = health === "ok" ? "info" : "warn";
      this.deps.logger[level]({ repoId: repo.id, health, reason }, "repo observation health changed");
    }
  }

  /** Repos the pass may call GitHub for: readable token, not cooling down. */
  async #access(now: number): Promise<Map<string, RepoAccess>> {
    const repos = await this.deps.repos.listLive();
    const states = new Map((await this.deps.repoObservations.list()).map((state) => [state.repoId, state]));
    const access = new Map<string, RepoAccess>();
    for (const repo of repos) {
      const state = states.get(repo.id) ?? null;
      let token: string;
      try {
        token = await this.deps.secrets.read(repo.tokenRef);
      } catch (error) {
        await this.#setHealth(
          repo,
          state,
          "no_token",
          `token ${repo.tokenRef} cannot be read (${(error as Error).message}); the observer is off for this repo`,
          null,
        );
        continue;
      }
      const fingerprint = tokenFingerprint(token);
      if (state?.health === "no_token") await this.#setHealth(repo, state, "unknown", null, null);
      if ((this.#cooldowns.get(fingerprint) ?? 0) > now) continue;
      access.set(repo.id, { repo, state, scm: this.deps.scmFor(token), fingerprint });
    }
    return access;
  }

  async #lists(
    kind: PassKind,
    access: Map<string, RepoAccess>,
    report: PassReport,
  ): Promise<Map<string, OpenPullSummary[]>> {
    const lists = new Map<string, OpenPullSummary[]>();
    for (const entry of access.values()) {
      const started = this.now();
      const due = kind === "poll" ? this.#due(entry.state, started) : entry.state?.dirtyAt != null;
      if (!due) continue;
      const { repo, state } = entry;
      try {
        const list = await entry.scm.listOpenPulls({ owner: repo.owner, repo: repo.repo }, this.#deadline());
        report.reposListed += 1;
        report.restCost += list.cost;
        lists.set(repo.id, list.pulls);
        const now = this.now();
        await this.deps.repoObservations.update(repo.id, { lastPolledAt: now }, now);
        if (state?.dirtyAt != null) await this.deps.repoObservations.clearListDirty(repo.id, started);
        // Only an answer that really used the token (not a 304) clears a sticky auth failure.
        if (!list.unchanged) {
          await this.deps.repoObservations.update(repo.id, { lastSuccessAt: now }, now);
          await this.#setHealth(repo, state, "ok", null, null);
        } else if (state?.health !== "auth_failed" || state.failedToken !== entry.fingerprint) {
          await this.#setHealth(repo, state, "ok", null, null);
        }
      } catch (error) {
        await this.#failed(entry, error, report, "listing open pull requests");
      }
    }
    return lists;
  }

  async #failed(entry: RepoAccess, error: unknown, report: PassReport, what: string): Promise<void> {
    if (this.stopSignal.aborted) throw new StopPass();
    if (error instanceof RateLimited) this.#rateLimited(entry.fingerprint, error, report);
    report.errors += 1;
    if (error instanceof GitHubError && ["auth_failed", "forbidden", "not_found"].includes(error.kind)) {
      await this.#setHealth(entry.repo, entry.state, "auth_failed", error.message, entry.fingerprint);
      return;
    }
    this.deps.logger.warn({ err: error, repoId: entry.repo.id }, `observer failed ${what}; continuing`);
  }

  /** Plans, fetches, persists and reacts to the PRs that need it. Returns the ids it observed. */
  async #observe(
    access: Map<string, RepoAccess>,
    lists: Map<string, OpenPullSummary[]>,
    report: PassReport,
  ): Promise<Set<string>> {
    const repoIds = [...access.keys()];
    const watched = await this.deps.pullRequests.listWatched(repoIds);
    const known = new Set(watched.map((pr) => pr.id));
    const listedNodes = [...lists.values()].flat().map((pr) => pr.nodeId);
    const reappeared = (await this.deps.pullRequests.listByNodeIds(listedNodes)).filter(
      (pr) => !known.has(pr.id),
    );
    const tracked = [...watched, ...reappeared];
    const sessions = await this.deps.sessions.listWithBranch(repoIds);
    const now = this.now();

    const work: { entry: RepoAccess; record: PullRequestRecord; reason: FetchReason }[] = [];
    for (const entry of access.values()) {
      const { repo } = entry;
      const mine = tracked.filter((pr) => pr.repoId === repo.id);
      const listed = lists.get(repo.id) ?? null;
      const plan = planObservation({
        repoFullName: `${repo.owner}/${repo.repo}`,
        listed,
        tracked: mine,
        sessions: sessions
          .filter((session) => session.repoId === repo.id && session.branch !== null)
          .map((session) => ({ sessionId: session.id, branch: session.branch as string })),
        now,
        staleAfterMs: this.deps.config.staleAfterSeconds * 1000,
        pollMode: !this.webhookHealthy(entry.state, now),
      });
      const byId = new Map(mine.map((pr) => [pr.id, pr]));
      const summaries = new Map((listed ?? []).map((pull) => [pull.nodeId, pull]));
      for (const item of plan.track) {
        const summary = summaries.get(item.listed.nodeId);
        if (!summary) continue;
        const record = await this.deps.pullRequests.track(
          {
            nodeId: summary.nodeId,
            repoId: repo.id,
            number: summary.number,
            url: summary.url,
            title: summary.title,
            author: summary.author,
            headRef: summary.headRef,
            headRepo: summary.headRepo,
            headSha: summary.headSha,
            baseRef: summary.baseRef,
            state: "open",
            draft: summary.draft,
            ghUpdatedAt: null,
            sessionId: item.sessionId,
            proposalId: null,
          },
          now,
        );
        report.tracked += 1;
        if (!byId.has(record.id)) work.push({ entry, record, reason: "new" });
        byId.set(record.id, record);
      }
      let missed = false;
      for (const item of plan.fetch) {
        const record = byId.get(item.id);
        if (!record) continue;
        work.push({ entry, record, reason: item.reason });
        if (item.reason === "changed" && listed !== null) missed = true;
      }
      // A change the list shows that no webhook announced: webhooks are not to be trusted now.
      if (missed && this.webhookHealthy(entry.state, now)) {
        await this.deps.repoObservations.update(repo.id, { webhookMissedAt: now }, now);
      }
    }
    const observed = new Set<string>();
    const byToken = new Map<string, typeof work>();
    for (const item of work) {
      const group = byToken.get(item.entry.fingerprint) ?? [];
      group.push(item);
      byToken.set(item.entry.fingerprint, group);
    }
    for (const group of byToken.values()) {
      for (let start = 0; start < group.length; start += this.deps.config.batchSize) {
        const batch = group.slice(start, start + this.deps.config.batchSize);
        await this.#fetchBatch(batch, report, observed);
      }
    }
    return observed;
  }

  async #fetchBatch(
    batch: { entry: RepoAccess; record: PullRequestRecord; reason: FetchReason }[],
    report: PassReport,
    observed: Set<string>,
  ): Promise<void> {
    const first = batch[0];
    if (!first) return;
    const fetchStartedAt = this.now();
    const refs = (threads: boolean, items: typeof batch): PullToFetch[] =>
      items.map(({ entry, record }) => ({
        owner: entry.repo.owner,
        repo: entry.repo.repo,
        number: record.number,
        threads,
      }));
    let facts;
    try {
      facts = await first.entry.scm.fetchPulls(refs(false, batch), this.#deadline());
    } catch (error) {
      await this.#failed(first.entry, error, report, "fetching pull requests");
      return;
    }
    report.graphqlQueries += 1;
    report.graphqlCost += facts.cost;
    const results = new Map<string, PrObservation>();
    const needThreads: typeof batch = [];
    batch.forEach((item, index) => {
      const fetched = facts.pulls[index];
      if (!fetched?.found) {
        // Unknown to GitHub now (deleted, transferred, no longer visible): keep the last facts.
        this.deps.logger.warn(
          { prId: item.record.id, reason: fetched?.found === false ? fetched.reason : "missing" },
          "pull request not found",
        );
        return;
      }
      results.set(item.record.id, fetched.observation);
      if (this.#threadsDue(item.record, fetched.observation, fetchStartedAt)) needThreads.push(item);
    });
    const threaded = new Set<string>();
    if (needThreads.length > 0) {
      try {
        const withThreads = await first.entry.scm.fetchPulls(refs(true, needThreads), this.#deadline());
        report.graphqlQueries += 1;
        report.graphqlCost += withThreads.cost;
        needThreads.forEach((item, index) => {
          const fetched = withThreads.pulls[index];
          if (fetched?.found) {
            results.set(item.record.id, fetched.observation);
            threaded.add(item.record.id);
          }
        });
      } catch (error) {
        // The facts are still good: persist them; the threads are read next time.
        await this.#failed(first.entry, error, report, "fetching review threads");
      }
    }
    for (const item of batch) {
      let observation = results.get(item.record.id);
      if (!observation) continue;
      observation = await this.#withLogTails(item.entry, item.record, observation, report);
      report.fetched += 1;
      report.fetchReasons[item.reason] = (report.fetchReasons[item.reason] ?? 0) + 1;
      try {
        const saved = await this.deps.writer.write({
          record: item.record,
          repo: item.entry.repo,
          observation,
          threadsFetched: threaded.has(item.record.id),
          fetchStartedAt,
          now: this.now(),
        });
        observed.add(saved.id);
        const outcome = await this.deps.reactions.reactToPr(
          saved,
          item.entry.repo,
          item.entry.scm,
          this.now(),
        );
        report.effects += outcome.effects;
        if (outcome.rateLimited) this.#rateLimited(item.entry.fingerprint, outcome.rateLimited, report);
      } catch (error) {
        if (error instanceof StopPass) throw error;
        if (!(error instanceof StaleVersionError)) throw error;
        this.deps.logger.debug(
          { prId: item.record.id },
          "pull request changed during the pass; next pass reads it",
        );
      }
    }
  }

  #threadsDue(record: PullRequestRecord, observation: PrObservation, now: number): boolean {
    if (observation.state !== "open") return false;
    if (record.threadsFetchedAt === null) return true;
    if (observation.commentsCount !== record.commentsCount) return true;
    if (observation.reviewDecision !== record.reviewDecision) return true;
    if (record.unresolvedThreads === 0) return false;
    return (
      record.dirtyAt !== null ||
      now - record.threadsFetchedAt >= this.deps.config.reviewIntervalSeconds * 1000
    );
  }

  /** Job-log tails for checks that newly failed (SPEC C4: once per failing check run). */
  async #withLogTails(
    entry: RepoAccess,
    record: PullRequestRecord,
    observation: PrObservation,
    report: PassReport,
  ): Promise<PrObservation> {
    const known = new Map((record.observation?.ci.checks ?? []).map((check) => [check.id, check]));
    const wanted = checksNeedingLogTail(observation).filter((check) => !known.get(check.id)?.logTail);
    if (wanted.length === 0) return observation;
    const tails = new Map<string, string>();
    for (const check of wanted) {
      if (report.logTailsFetched >= LOG_TAILS_PER_PASS || check.jobId === null) break;
      report.logTailsFetched += 1;
      report.restCost += 1;
      try {
        const log = await entry.scm.fetchJobLog(
          { owner: entry.repo.owner, repo: entry.repo.repo },
          check.jobId,
          this.#deadline(),
        );
        tails.set(check.id, logTail(log));
      } catch (error) {
        if (error instanceof RateLimited) this.#rateLimited(entry.fingerprint, error, report);
        // Best effort: the nudge still names the check and its URL.
        tails.set(check.id, `(log unavailable: ${error instanceof Error ? error.message : String(error)})`);
      }
    }
    return {
      ...observation,
      ci: {
        ...observation.ci,
        checks: observation.ci.checks.map((check) =>
          tails.has(check.id) ? { ...check, logTail: tails.get(check.id) ?? null } : check,
        ),
      },
    };
  }

  /**
   * Reactions for PRs not re-read in this pass: acknowledges observations a crash left
   * unanswered, and runs time-based escalations. No GitHub call unless an effect needs one.
   */
  async #sweep(access: Map<string, RepoAccess>, observed: Set<string>, report: PassReport): Promise<void> {
    const watched = await this.deps.pullRequests.listWatched([...access.keys()]);
    for (const record of watched) {
      if (observed.has(record.id) || record.observation === null) continue;
      const entry = access.get(record.repoId);
      if (!entry) continue;
      const outcome = await this.deps.reactions.reactToPr(record, entry.repo, entry.scm, this.now());
      report.effects += outcome.effects;
      if (outcome.rateLimited) this.#rateLimited(entry.fingerprint, outcome.rateLimited, report);
    }
  }

  async #sessionSweep(access: Map<string, RepoAccess>, report: PassReport): Promise<void> {
    for (const session of await this.deps.sessions.listLive()) {
      const repoName = session.repoId ? (access.get(session.repoId)?.repo.name ?? null) : null;
      report.effects += await this.deps.reactions.reactToSession(session, repoName, this.now());
    }
  }
}
