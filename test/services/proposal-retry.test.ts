import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretRedactor } from "../../src/domain/redact.js";
import { EventHub } from "../../src/services/event-hub.js";
import { EventLog } from "../../src/services/event-log.js";
import { ProposalService } from "../../src/services/proposal-service.js";
import { SecretReader } from "../../src/services/secrets.js";
import type { EnqueueOptions, EnqueueResult, JobQueue } from "../../src/queue/job-queue.js";
import type { Database } from "../../src/store/database.js";
import { LocalEventSignal } from "../../src/store/event-signal.js";
import { EventStore } from "../../src/store/event-store.js";
import { ProposalStore } from "../../src/store/proposal-store.js";
import { PullRequestStore } from "../../src/store/pull-request-store.js";
import { RepoStore } from "../../src/store/repo-store.js";
import { createTestDatabase, type TestDatabase } from "../support/databases.js";

/**
 * SPEC C3: "a retry after a failure always runs a fresh job (never silently dropped)". The worker
 * records a failure before the queue has wound its job up; a retry in that moment must not be
 * joined to the job that is ending. A queue that still holds every job it was given (nothing is
 * ever wound up) makes that moment last.
 */

class HoldingQueue {
  readonly kind = "sqlite" as const;
  readonly jobs = new Map<string, string>();

  async enqueue(_queue: string, _payload: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    const key = options.dedupKey ?? String(this.jobs.size);
    const existing = this.jobs.get(key);
    if (existing) return { id: existing, deduplicated: true };
    const id = `job-${this.jobs.size + 1}`;
    this.jobs.set(key, id);
    return { id, deduplicated: false };
  }
}

describe("opening a PR again after a failed attempt", () => {
  let testDb: TestDatabase;
  let database: Database;
  let service: ProposalService;
  let proposals: ProposalStore;
  let queue: HoldingQueue;

  beforeAll(async () => {
    testDb = await createTestDatabase("sqlite");
    database = await testDb.open();
    const store = new EventStore(database);
    const signal = new LocalEventSignal();
    const redactor = new SecretRedactor();
    const events = new EventLog({ store, signal, hub: new EventHub(store, signal), redactor });
    proposals = new ProposalStore(database.db);
    const repos = new RepoStore(database.db);
    const now = Date.now();
    await repos.insert({
      id: "repo_1",
      name: "search",
      owner: "acme",
      repo: "search",
      baseBranch: "main",
      tokenRef: "env:PROPOSAL_RETRY_TEST_TOKEN",
      webhookSecretRef: null,
      autoMerge: false,
      mergeMethod: "squash",
      followUps: "approve",
      createdAt: now,
    });
    process.env.PROPOSAL_RETRY_TEST_TOKEN = "test-token-value";
    queue = new HoldingQueue();
    service = new ProposalService({
      store: proposals,
      repos,
      pullRequests: new PullRequestStore(database.db),
      events,
      queue: queue as unknown as JobQueue,
      secrets: new SecretReader("/nonexistent", redactor),
    });
  });

  afterAll(async () => {
    delete process.env.PROPOSAL_RETRY_TEST_TOKEN;
    await testDb?.cleanup();
  });

  it("joins a double click, but never joins a retry to the attempt that failed for good", async () => {
    const proposal = await service.create(
      {
        repoId: "repo_1",
        sessionId: null,
        title: "Raise the boost",
        kind: "files",
        change: { files: [{ path: "a.txt", content: "a\n" }] },
        evidence: null,
      },
      null,
    );
    const [first, second] = await Promise.all([
      service.openPr(proposal.id, null),
      service.openPr(proposal.id, null),
    ]);
    expect(first.jobId).toBe(second.jobId);

    // A retry that the worker is still retrying joins the attempt under way.
    await proposals.setOpenError(proposal.id, "CLONE_FAILED: timeout (retrying)", Date.now());
    expect((await service.openPr(proposal.id, null)).jobId).toBe(first.jobId);

    // The attempt failed for good; the queue has not wound it up yet.
    await proposals.setOpenError(proposal.id, "GITHUB_API_FAILED: Base branch is locked", Date.now());
    const [retry, again] = await Promise.all([
      service.openPr(proposal.id, null),
      service.openPr(proposal.id, null),
    ]);
    expect(retry.jobId).not.toBe(first.jobId);
    // Two clicks on retry are still one fresh job.
    expect(again.jobId).toBe(retry.jobId);
    expect([retry.deduplicated, again.deduplicated].sort()).toEqual([false, true]);
    expect((await proposals.get(proposal.id))?.prOpenError).toBeNull();
  });
});
