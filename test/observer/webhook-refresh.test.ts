import { afterEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { OWNER, type HarnessRepo } from "../support/pr-harness.js";
import {
  PARAMS,
  startObserverHarness,
  type ObserverHarness,
  type OpenedPr,
} from "../support/observer-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * Webhooks into the observer (SPEC C4): the simulator delivers real signed webhooks to the
 * server's public URL; a delivery marks PRs dirty and wakes a targeted refresh through the same
 * code path as the poll; with healthy webhooks the poll relaxes to the reconcile interval.
 */
const SECRET = "whsec-observer-test";

async function hooked(
  h: ObserverHarness,
  sessionId?: string,
): Promise<{ repo: HarnessRepo; opened: OpenedPr }> {
  const repo = await h.addRepo({ name: "search", files: PARAMS, webhookSecret: SECRET });
  const registered = await h.api<{ created: boolean }>("POST", `/api/v1/repos/${repo.repoId}/webhook`);
  expect(registered.status).toBe(201);
  const opened = await h.openTrackedPr(repo, sessionId ? { sessionId } : {});
  return { repo, opened };
}

async function delivered(h: ObserverHarness, event: string): Promise<void> {
  await h.sim.admin.flushDeliveries();
  const records = h.sim.admin.deliveries({ owner: OWNER, repo: "search" }).filter((d) => d.event === event);
  expect(records.length).toBeGreaterThan(0);
  expect(records.every((record) => record.statusCode !== null && record.statusCode < 300)).toBe(true);
}

describe.each(DATABASE_KINDS)("webhooks into the observer ($kind)", ({ kind, skip }) => {
  let h: ObserverHarness;

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  it.skipIf(skip)(
    "a failing check's webhook wakes a refresh that nudges the agent, without waiting for a poll",
    async () => {
      // The poll interval is an hour: only the webhook can bring the failure in.
      h = await startObserverHarness({
        kind,
        publicUrl: true,
        observer: "auto",
        observerYaml: ["  intervalSeconds: 3600"],
      });
      const session = await h.createSession({ repoId: null });
      const { opened } = await hooked(h, session.id);
      const sha = (await h.sim.admin.branchHead(OWNER, "search", opened.branch)) ?? "";
      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha,
        name: "unit",
        status: "completed",
        conclusion: "failure",
        log: "boom\n",
      });
      const nudge = await waitFor(
        async () =>
          (await h.messages(session.id)).find((message) => message.source === "reaction:ci_failed") ?? null,
        { timeoutMs: 15_000, message: "no nudge after the webhook" },
      );
      expect(nudge.text).toContain("Failed: unit");
      expect(nudge.text).toContain("boom");
      await delivered(h, "check_run");
      const received = await h.eventsOf("webhook.received");
      expect(received.some((event) => event.payload.event === "check_run")).toBe(true);
    },
    30_000,
  );

  it.skipIf(skip)("duplicate deliveries and a webhook overlapping a poll still make one nudge", async () => {
    h = await startObserverHarness({ kind, publicUrl: true });
    const session = await h.createSession({ repoId: null });
    const { opened } = await hooked(h, session.id);
    await h.tick();
    const sha = (await h.sim.admin.branchHead(OWNER, "search", opened.branch)) ?? "";
    h.sim.admin.setCheckRun({
      owner: OWNER,
      repo: "search",
      sha,
      name: "unit",
      status: "completed",
      conclusion: "failure",
      log: "boom\n",
    });
    await delivered(h, "check_run");
    // The webhook's refresh and a poll both see the same failure.
    await Promise.all([h.refresh(), h.tick()]);
    for (const record of h.sim.admin.deliveries({ owner: OWNER, repo: "search" }))
      h.sim.admin.redeliver(record.id);
    await h.sim.admin.flushDeliveries();
    await h.refresh();
    h.clock.advance(31_000);
    await h.tick();
    const nudges = (await h.messages(session.id)).filter(
      (message) => message.source === "reaction:ci_failed",
    );
    expect(nudges).toHaveLength(1);
  });

  it.skipIf(skip)(
    "healthy webhooks relax the poll to the reconcile interval; a missed change restores it",
    async () => {
      h = await startObserverHarness({ kind, publicUrl: true });
      const { repo, opened } = await hooked(h);
      // Let every delivery of the set-up arrive and be consumed (a PR opening marks the list dirty).
      for (let i = 0; i < 5; i++) {
        await h.sim.admin.flushDeliveries();
        await h.tick();
        if ((await h.repoObservation(repo.repoId))?.dirtyAt === null) break;
      }
      const lists = (): number =>
        h.requestsSinceMark().filter((request) => request.path === `/api/v3/repos/${OWNER}/search/pulls`)
          .length;

      h.mark();
      h.clock.advance(31_000);
      await h.tick();
      expect(lists()).toBe(0);
      h.clock.advance(300_000);
      await h.tick();
      expect(lists()).toBe(1);

      // Deliveries stop (a broken hook): the reconcile poll finds a change no webhook announced.
      h.sim.admin.setDeliveryPaused(true);
      await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: opened.branch,
        files: { "x.txt": "x\n" },
      });
      h.clock.advance(301_000);
      await h.tick();
      expect((await h.repoObservation((await h.pr(opened.prId)).repoId))?.webhookMissedAt).not.toBeNull();
      h.mark();
      h.clock.advance(31_000);
      await h.tick();
      expect(lists()).toBe(1);
    },
  );
});
