import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { verify } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitClient, type GitClientOptions } from "../support/github-sim/git-client.js";
import { callSim, type SimHttpAnswer } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";
import { WebhookReceiver, type ReceivedDelivery } from "../support/github-sim/webhook-receiver.js";
import { WebhookValidator } from "../support/github-sim/webhook-validator.js";
import { waitFor } from "../support/wait-for.js";

/**
 * Outgoing webhooks, received by a real HTTP server in the test: GitHub's headers and signatures,
 * payloads valid against `@octokit/webhooks-schemas` for every event the simulator sends, event
 * filtering, redelivery with the same delivery id, retries, and per-hook order.
 */

const OWNER = "acme";
const SECRET = "It's a Secret to Everybody";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sim: GitHubSimulator;
let receiver: WebhookReceiver;
let validator: WebhookValidator;
let token: string;
let work: string;
let repoCount = 0;

beforeAll(async () => {
  [sim, receiver, validator] = await Promise.all([
    startGitHubSimulator({ contentCreationPerMinute: 1000, webhooks: { retryDelaysMs: [20, 20, 20] } }),
    WebhookReceiver.start(),
    WebhookValidator.load(),
  ]);
  token = sim.admin.createToken({ repos: "*" });
  work = await mkdtemp(path.join(os.tmpdir(), "sim-webhooks-"));
});

afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function newRepo(): Promise<{ name: string; id: number }> {
  repoCount += 1;
  const name = `hooked-${repoCount}`;
  const created = await sim.admin.createRepo({
    owner: OWNER,
    name,
    files: { "config.yaml": "a: 1\nb: 2\n" },
  });
  return { name, id: created.id };
}

function api(method: string, apiPath: string, body?: unknown): Promise<SimHttpAnswer> {
  return callSim(sim.baseUrl, method, apiPath, { token, body });
}

async function addHook(
  repo: string,
  hookPath: string,
  options: {
    events?: string[];
    secret?: string | null;
    contentType?: "json" | "form";
    active?: boolean;
  } = {},
): Promise<number> {
  const answer = await api("POST", `/repos/${OWNER}/${repo}/hooks`, {
    name: "web",
    active: options.active ?? true,
    events: options.events ?? ["*"],
    config: {
      url: receiver.url(hookPath),
      content_type: options.contentType ?? "json",
      ...(options.secret === null ? {} : { secret: options.secret ?? SECRET }),
    },
  });
  expect(answer.status).toBe(201);
  return (answer.json as { id: number }).id;
}

async function openPull(repo: string, branch: string): Promise<number> {
  await sim.admin.pushFiles({ owner: OWNER, repo, branch, files: { [`${branch}.txt`]: "x\n" } });
  const opened = await api("POST", `/repos/${OWNER}/${repo}/pulls`, {
    title: branch,
    head: branch,
    base: "main",
  });
  expect(opened.status).toBe(201);
  return (opened.json as { number: number }).number;
}

function header(delivery: ReceivedDelivery, name: string): string {
  const value = delivery.headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

/** The JSON payload of a delivery, whatever its content type. */
function payloadOf(delivery: ReceivedDelivery): Record<string, unknown> {
  const raw = header(delivery, "content-type").startsWith("application/x-www-form-urlencoded")
    ? (new URLSearchParams(delivery.body).get("payload") ?? "")
    : delivery.body;
  return JSON.parse(raw) as Record<string, unknown>;
}

function eventOf(delivery: ReceivedDelivery): string {
  const payload = payloadOf(delivery);
  const action = typeof payload.action === "string" ? `.${payload.action}` : "";
  return `${header(delivery, "x-github-event")}${action}`;
}

async function expectSigned(delivery: ReceivedDelivery, secret = SECRET): Promise<void> {
  expect(await verify(secret, delivery.body, header(delivery, "x-hub-signature-256"))).toBe(true);
  expect(header(delivery, "x-hub-signature")).toBe(
    `sha1=${createHmac("sha1", secret).update(delivery.body).digest("hex")}`,
  );
  // The check itself can fail: a changed body does not verify.
  expect(await verify(secret, `${delivery.body} `, header(delivery, "x-hub-signature-256"))).toBe(false);
}

function expectValid(delivery: ReceivedDelivery): void {
  const payload = payloadOf(delivery);
  const action = typeof payload.action === "string" ? payload.action : null;
  const result = validator.validate(header(delivery, "x-github-event"), action, payload);
  expect(result.errors, eventOf(delivery)).toEqual([]);
  expect(result.valid).toBe(true);
}

describe("webhook deliveries", () => {
  it("pings a new hook, signed, with GitHub's delivery headers", async () => {
    const repo = await newRepo();
    const hookId = await addHook(repo.name, "/ping", { events: ["pull_request"] });
    await sim.admin.flushDeliveries();
    const [ping, ...rest] = receiver.deliveriesTo("/ping");
    expect(rest).toEqual([]);
    if (!ping) throw new Error("no ping");
    expect(header(ping, "content-type")).toBe("application/json");
    expect(header(ping, "user-agent")).toBe("GitHub-Hookshot/sim");
    expect(header(ping, "x-github-event")).toBe("ping");
    expect(header(ping, "x-github-delivery")).toMatch(UUID);
    expect(header(ping, "x-github-hook-id")).toBe(String(hookId));
    expect(header(ping, "x-github-hook-installation-target-type")).toBe("repository");
    expect(header(ping, "x-github-hook-installation-target-id")).toBe(String(repo.id));
    await expectSigned(ping);
    expectValid(ping);
    expect(payloadOf(ping)).toMatchObject({
      hook_id: hookId,
      hook: {
        id: hookId,
        events: ["pull_request"],
        config: { url: receiver.url("/ping"), secret: "********" },
      },
      repository: { full_name: `${OWNER}/${repo.name}` },
      sender: { login: "shepherd-bot" },
    });
    expect(payloadOf(ping)).not.toHaveProperty("installation");
  });

  it("sends every event kind, each payload valid against @octokit/webhooks-schemas", async () => {
    const { name } = await newRepo();
    await addHook(name, "/all-kinds");

    // A branch pushed with real git, then its pull request.
    const clone = path.join(work, `clone-${name}`);
    const options: GitClientOptions = { cwd: work, home: work, token };
    await gitClient(["clone", "--quiet", `${sim.baseUrl}/${OWNER}/${name}.git`, clone], options);
    const inClone = { ...options, cwd: clone };
    await gitClient(["checkout", "-q", "-b", "feature"], inClone);
    await writeFile(path.join(clone, "config.yaml"), "a: 1\nb: 3\n");
    await gitClient(["commit", "-q", "-am", "Raise b"], inClone);
    await gitClient(["push", "-q", "origin", "feature"], inClone);
    const first = (await gitClient(["rev-parse", "HEAD"], inClone)).trim();
    const opened = await api("POST", `/repos/${OWNER}/${name}/pulls`, {
      title: "Raise b",
      head: "feature",
      base: "main",
    });
    const number = (opened.json as { number: number }).number;
    await writeFile(path.join(clone, "notes.md"), "why\n");
    await gitClient(["add", "-A"], inClone);
    await gitClient(["commit", "-q", "-m", "Explain"], inClone);
    await gitClient(["push", "-q", "origin", "feature"], inClone);
    const second = (await gitClient(["rev-parse", "HEAD"], inClone)).trim();

    await api("PATCH", `/repos/${OWNER}/${name}/pulls/${number}`, { title: "Raise b to 3" });
    await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, { body: "Ready." });
    sim.admin.setCheckRun({ owner: OWNER, repo: name, sha: second, name: "build", status: "queued" });
    sim.admin.setCheckRun({
      owner: OWNER,
      repo: name,
      sha: second,
      name: "build",
      status: "completed",
      conclusion: "failure",
      detailsUrl: "https://ci.example.com/runs/1",
    });
    sim.admin.setCommitStatus({
      owner: OWNER,
      repo: name,
      sha: second,
      context: "ci/lint",
      state: "pending",
    });
    const review = sim.admin.addReview({
      owner: OWNER,
      repo: name,
      number,
      user: "coderabbitai[bot]",
      state: "CHANGES_REQUESTED",
      body: "One thing.",
      comments: [{ path: "config.yaml", line: 2, body: "Is 3 right?" }],
    });
    const threadId = review.threads[0]?.nodeId ?? "";
    sim.admin.resolveThread({ owner: OWNER, repo: name, number, threadId, user: "alice" });
    sim.admin.resolveThread({ owner: OWNER, repo: name, number, threadId, resolved: false, user: "alice" });
    sim.admin.setDraft({ owner: OWNER, repo: name, number, draft: true });
    sim.admin.setDraft({ owner: OWNER, repo: name, number, draft: false });
    await api("PATCH", `/repos/${OWNER}/${name}/pulls/${number}`, { state: "closed" });
    await api("PATCH", `/repos/${OWNER}/${name}/pulls/${number}`, { state: "open" });
    expect((await api("PUT", `/repos/${OWNER}/${name}/pulls/${number}/merge`, {})).status).toBe(200);
    await sim.admin.flushDeliveries();

    const received = receiver.deliveriesTo("/all-kinds");
    expect(received.map(eventOf)).toEqual([
      "ping",
      "push",
      "pull_request.opened",
      "push",
      "pull_request.synchronize",
      "pull_request.edited",
      "issue_comment.created",
      "check_run.created",
      "check_run.completed",
      "check_suite.completed",
      "status",
      "pull_request_review.submitted",
      "pull_request_review_comment.created",
      "pull_request_review_thread.resolved",
      "pull_request_review_thread.unresolved",
      "pull_request.converted_to_draft",
      "pull_request.ready_for_review",
      "pull_request.closed",
      "pull_request.reopened",
      "pull_request.closed",
      "push",
    ]);
    for (const delivery of received) {
      expectValid(delivery);
      await expectSigned(delivery);
    }
    const guids = received.map((delivery) => header(delivery, "x-github-delivery"));
    expect(new Set(guids).size).toBe(guids.length);

    const payloads = received.map(payloadOf);
    const find = (event: string): Record<string, unknown> => {
      const index = received.findIndex((delivery) => eventOf(delivery) === event);
      return payloads[index] ?? {};
    };
    expect(find("push")).toMatchObject({
      ref: "refs/heads/feature",
      before: "0".repeat(40),
      after: first,
      created: true,
      commits: [{ id: first, message: "Raise b\n", modified: ["config.yaml"] }],
      sender: { login: "shepherd-bot" },
    });
    expect(find("pull_request.opened")).toMatchObject({
      number,
      pull_request: {
        state: "open",
        head: { sha: first, ref: "feature" },
        commits: 1,
        additions: 1,
        deletions: 1,
      },
    });
    expect(find("pull_request.synchronize")).toMatchObject({ before: first, after: second });
    expect(find("pull_request.edited")).toMatchObject({ changes: { title: { from: "Raise b" } } });
    expect(find("check_run.completed")).toMatchObject({
      check_run: {
        name: "build",
        status: "completed",
        conclusion: "failure",
        details_url: "https://ci.example.com/runs/1",
      },
    });
    expect(find("pull_request_review.submitted")).toMatchObject({
      review: {
        state: "changes_requested",
        body: "One thing.",
        user: { login: "coderabbitai[bot]", type: "Bot" },
      },
    });
    expect(find("pull_request_review_thread.resolved")).toMatchObject({
      thread: { node_id: threadId, comments: [{ body: "Is 3 right?", path: "config.yaml", line: 2 }] },
      sender: { login: "alice" },
    });
    const closings = payloads.filter((payload) => payload.action === "closed");
    expect(closings.map((payload) => (payload.pull_request as { merged: boolean }).merged)).toEqual([
      false,
      true,
    ]);

    // What the receiver got is exactly what the simulator recorded.
    const records = sim.admin.deliveries({ owner: OWNER, repo: name });
    expect(records.map((record) => record.requestBody)).toEqual(received.map((delivery) => delivery.body));
    expect(records.every((record) => record.status === "delivered" && record.statusCode === 200)).toBe(true);
  });

  it("sends only the events a hook subscribed to (or *), nothing to an inactive hook, and forms when asked", async () => {
    const { name } = await newRepo();
    await addHook(name, "/only-prs", { events: ["pull_request"] });
    await addHook(name, "/everything", { events: ["*"] });
    await addHook(name, "/inactive", { events: ["*"], active: false });
    await addHook(name, "/form", { events: ["issue_comment"], contentType: "form" });
    const number = await openPull(name, "filtered");
    await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, { body: "hi" });
    await sim.admin.flushDeliveries();

    expect(receiver.deliveriesTo("/only-prs").map(eventOf)).toEqual(["ping", "pull_request.opened"]);
    expect(receiver.deliveriesTo("/everything").map(eventOf)).toEqual([
      "ping",
      "push",
      "pull_request.opened",
      "issue_comment.created",
    ]);
    expect(receiver.deliveriesTo("/inactive")).toEqual([]);
    const form = receiver.deliveriesTo("/form");
    expect(form.map(eventOf)).toEqual(["ping", "issue_comment.created"]);
    for (const delivery of form) {
      expect(header(delivery, "content-type")).toBe("application/x-www-form-urlencoded");
      expect(delivery.body.startsWith("payload=")).toBe(true);
      await expectSigned(delivery);
      expectValid(delivery);
    }
  });

  it("redelivers the exact same body with the same X-GitHub-Delivery", async () => {
    const { name } = await newRepo();
    await addHook(name, "/redeliver", { events: ["pull_request"] });
    await openPull(name, "again");
    await sim.admin.flushDeliveries();
    const original = sim.admin
      .deliveries({ owner: OWNER, repo: name })
      .find((record) => record.event === "pull_request" && record.action === "opened");
    if (!original) throw new Error("no pull_request delivery");

    const again = sim.admin.redeliver(original.id);
    expect(again).toMatchObject({ guid: original.guid, redelivery: true, event: "pull_request" });
    expect(again.id).not.toBe(original.id);
    await sim.admin.flushDeliveries();

    const sent = receiver
      .deliveriesTo("/redeliver")
      .filter((delivery) => header(delivery, "x-github-delivery") === original.guid);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.body).toBe(sent[0]?.body);
    expect(sent[1]?.body).toBe(original.requestBody);
    await expectSigned(sent[1] as ReceivedDelivery);
    const records = sim.admin.deliveries({ owner: OWNER, repo: name });
    expect(records.at(-1)).toMatchObject({ guid: original.guid, redelivery: true, status: "delivered" });
    expect(() => sim.admin.redeliver(999_999_999)).toThrow(/no delivery/);
  });

  it("retries a 5xx and a refused connection, does not retry a 4xx, and records each outcome", async () => {
    const { name } = await newRepo();
    await addHook(name, "/flaky", { events: ["issue_comment"] });
    await addHook(name, "/down", { events: ["issue_comment"] });
    await addHook(name, "/gone", { events: ["issue_comment"] });
    const closedPort = await freePort();
    const refused = await api("POST", `/repos/${OWNER}/${name}/hooks`, {
      events: ["issue_comment"],
      config: { url: `http://127.0.0.1:${closedPort}/nobody`, content_type: "json" },
    });
    expect(refused.status).toBe(201);
    const number = await openPull(name, "retry");
    await sim.admin.flushDeliveries();
    receiver.answer("/flaky", 500);
    receiver.answer("/down", 500, 502, 503, 500);
    receiver.answer("/gone", 410);

    await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, { body: "retry me" });
    await sim.admin.flushDeliveries();

    const flaky = receiver
      .deliveriesTo("/flaky")
      .filter((delivery) => eventOf(delivery) === "issue_comment.created");
    expect(flaky).toHaveLength(2);
    expect(header(flaky[1] as ReceivedDelivery, "x-github-delivery")).toBe(
      header(flaky[0] as ReceivedDelivery, "x-github-delivery"),
    );
    expect(flaky[1]?.body).toBe(flaky[0]?.body);
    const comments = sim.admin
      .deliveries({ owner: OWNER, repo: name })
      .filter((record) => record.event === "issue_comment");
    const byPath = (suffix: string) => comments.find((record) => record.url.endsWith(suffix));
    expect(byPath("/flaky")).toMatchObject({ status: "delivered", statusCode: 200, attempts: 2 });
    expect(byPath("/down")).toMatchObject({ status: "failed", statusCode: 500, attempts: 4 });
    expect(byPath("/gone")).toMatchObject({ status: "failed", statusCode: 410, attempts: 1 });
    expect(byPath("/nobody")).toMatchObject({ status: "failed", statusCode: null, attempts: 4 });
    expect(byPath("/nobody")?.error).toMatch(/ECONNREFUSED/);
  });

  it("delivers in order per hook, one at a time, without holding up the request that caused it", async () => {
    const { name } = await newRepo();
    await addHook(name, "/ordered", { events: ["issue_comment"] });
    await addHook(name, "/held", { events: ["issue_comment"] });
    const number = await openPull(name, "ordered");
    await sim.admin.flushDeliveries();

    // A receiver that takes its time answers: overlapping deliveries would show.
    receiver.pause("/ordered", 15);
    receiver.hold("/held");
    const created = await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, {
      body: "comment 1",
    });
    // Answered while the delivery it caused is still unanswered by the receiver.
    expect(created.status).toBe(201);
    await waitFor(() =>
      receiver.deliveriesTo("/held").some((delivery) => eventOf(delivery) === "issue_comment.created"),
    );
    const heldRecord = (): string | undefined =>
      sim.admin
        .deliveries({ owner: OWNER, repo: name })
        .find((record) => record.url.endsWith("/held") && record.event === "issue_comment")?.status;
    expect(heldRecord()).toBe("pending");

    for (let i = 2; i <= 8; i++) {
      expect(
        (await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, { body: `comment ${i}` }))
          .status,
      ).toBe(201);
    }
    // While paused, nothing more goes out; flushing does not wait for what the pause holds.
    sim.admin.setDeliveryPaused(true);
    await api("POST", `/repos/${OWNER}/${name}/issues/${number}/comments`, { body: "comment 9" });
    receiver.release("/held");
    await sim.admin.flushDeliveries();
    const bodiesTo = (hookPath: string): string[] =>
      receiver
        .deliveriesTo(hookPath)
        .map(payloadOf)
        .filter((payload) => payload.comment !== undefined)
        .map((payload) => (payload.comment as { body: string }).body);
    expect(bodiesTo("/ordered")).not.toContain("comment 9");
    sim.admin.setDeliveryPaused(false);
    await sim.admin.flushDeliveries();

    const expected = Array.from({ length: 9 }, (_, index) => `comment ${index + 1}`);
    expect(bodiesTo("/ordered")).toEqual(expected);
    expect(bodiesTo("/held")).toEqual(expected);
    expect(receiver.maxConcurrent("/ordered")).toBe(1);
    expect(heldRecord()).toBe("delivered");
  });
});

/** A port nothing listens on (taken, then given back). */
async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
