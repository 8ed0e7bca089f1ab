import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { sign } from "@octokit/webhooks-methods";
import type { WebhookDefinition } from "@octokit/webhooks-examples";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WEBHOOK_EVENTS } from "../../src/services/webhook-intake.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import {
  bodyOf,
  deliver,
  registerRepo,
  repositoryOf,
  WebhookProbe,
  type WebhookTestRepo,
} from "./webhook-support.js";

/**
 * SPEC C4 "Webhooks" and §R "Webhooks": `POST /webhooks/github` verifies X-Hub-Signature-256
 * against the webhook secret of the repo the payload names (401 INVALID_SIGNATURE otherwise, and
 * nothing is processed), is idempotent by X-GitHub-Delivery, answers ping, and marks the PRs a
 * delivery concerns dirty — on both databases, through the real app.
 */

type Json = Record<string, unknown>;

/** GitHub's documented example payloads (a CommonJS JSON module). */
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples") as WebhookDefinition[];

const SHA_A = "a".repeat(40);

function codeOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

/** What a handled example must name, written from GitHub's documentation of each payload. */
function expectedNumbers(event: string, payload: Json): number[] {
  const get = (value: unknown, ...keys: string[]): unknown =>
    keys.reduce<unknown>((current, key) => (current as Json | undefined)?.[key], value);
  switch (event) {
    case "pull_request":
    case "pull_request_review":
    case "pull_request_review_comment":
    case "pull_request_review_thread":
      return [get(payload, "pull_request", "number") as number];
    case "issue_comment":
      return get(payload, "issue", "pull_request") ? [get(payload, "issue", "number") as number] : [];
    case "check_run":
    case "check_suite":
      return (get(payload, event, "pull_requests") as { number: number }[]).map((pull) => pull.number);
    default:
      return [];
  }
}

/** Why the server refused webhooks, as it logged for the operator. */
function refusalReasons(server: TestServer): string[] {
  return server.logs
    .records()
    .filter((record) => record.msg === "webhook refused")
    .map((record) => String(record.reason));
}

describe.each(DATABASE_KINDS)("webhook intake on $kind", ({ kind, skip }) => {
  let server: TestServer;
  let probe: WebhookProbe;
  let widgets: WebhookTestRepo;
  let gadgets: WebhookTestRepo;

  beforeAll(async () => {
    if (skip) return;
    server = await startTestServer({ kind });
    probe = new WebhookProbe(server);
    widgets = await registerRepo(server, { owner: "Acme", repo: "Widgets" });
    gadgets = await registerRepo(server, { owner: "acme", repo: "gadgets" });
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(skip)("", () => {
    describe("every example payload of @octokit/webhooks-examples for the handled events", () => {
      const handled = new Set<string>([...WEBHOOK_EVENTS, "ping"]);
      const cases = examples
        .filter((definition) => handled.has(definition.name))
        .flatMap((definition) =>
          (definition.examples as unknown as Json[]).map((payload, index) => ({
            event: definition.name,
            index,
            payload,
          })),
        );

      it("covers every handled event type", () => {
        expect(new Set(cases.map((c) => c.event))).toEqual(handled);
      });

      it("is accepted when signed with the secret of the repo it names, and names the right PRs", async () => {
        // One registered repo (with its own secret) per repository the examples name.
        const repos = new Map<string, WebhookTestRepo>();
        for (const { payload } of cases) {
          const fullName = (payload.repository as Json | undefined)?.full_name as string | undefined;
          if (!fullName || repos.has(fullName)) continue;
          const [owner = "", repo = ""] = fullName.split("/");
          repos.set(fullName, await registerRepo(server, { owner, repo, urlCase: "lower" }));
        }
        const outcomes: string[] = [];
        const wanted: string[] = [];
        let withoutRepository = 0;
        for (const { event, index, payload } of cases) {
          const fullName = (payload.repository as Json | undefined)?.full_name as string | undefined;
          if (!fullName) {
            // An organization hook's ping names no repository: nothing to check its signature with.
            withoutRepository += 1;
            const response = await deliver(server, { event, payload, secret: "any" });
            outcomes.push(`${event}#${index} ${response.statusCode} ${codeOf(response.body)}`);
            wanted.push(`${event}#${index} 401 INVALID_SIGNATURE`);
            continue;
          }
          const repo = repos.get(fullName) as WebhookTestRepo;
          const deliveryId = randomUUID();
          const response = await deliver(server, { event, payload, secret: repo.secret, deliveryId });
          const body = response.json<{ status: string }>();
          outcomes.push(`${event}#${index} ${response.statusCode} ${body.status}`);
          wanted.push(event === "ping" ? `${event}#${index} 200 pong` : `${event}#${index} 202 accepted`);
          const emitted = (await probe.webhookEvents()).find((e) => e.deliveryId === deliveryId);
          expect(emitted, `${event}#${index}`).toMatchObject({
            event,
            repoId: repo.id,
            repo: repo.name,
            action: (payload.action as string | undefined) ?? null,
            numbers: event === "ping" ? [] : expectedNumbers(event, payload),
          });
          expect((await probe.deliveries.get(deliveryId))?.repoId).toBe(repo.id);
        }
        expect(outcomes).toEqual(wanted);
        expect(withoutRepository).toBe(1);
      });
    });

    describe("refusals: 401 INVALID_SIGNATURE, and nothing processed", () => {
      const payload = (repo: WebhookTestRepo, number = 7): Json => ({
        action: "synchronize",
        number,
        pull_request: { number },
        repository: repositoryOf(repo),
      });

      async function expectNothingProcessed(
        send: (deliveryId: string) => Promise<{ statusCode: number; body: string }>,
        message: RegExp,
      ): Promise<void> {
        const pull = await probe.trackedPull(widgets.id, 7, SHA_A);
        const eventsBefore = (await probe.webhookEvents()).length;
        const deliveriesBefore = await probe.deliveries.count();
        const observationBefore = await probe.observations.get(widgets.id);
        const deliveryId = randomUUID();
        const response = await send(deliveryId);
        expect([response.statusCode, codeOf(response.body)], response.body).toEqual([
          401,
          "INVALID_SIGNATURE",
        ]);
        expect((JSON.parse(response.body) as { error: { message: string } }).error.message).toMatch(message);
        expect(await probe.deliveries.get(deliveryId)).toBeNull();
        expect(await probe.deliveries.count()).toBe(deliveriesBefore);
        expect((await probe.webhookEvents()).length).toBe(eventsBefore);
        expect(await probe.dirtyAt(pull.id)).toBeNull();
        expect((await probe.observations.get(widgets.id))?.webhookLastDeliveryAt ?? null).toBe(
          observationBefore?.webhookLastDeliveryAt ?? null,
        );
      }

      it("a signature that does not match the body", async () => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: payload(widgets),
              secret: widgets.secret,
              deliveryId,
              signature: `sha256=${"0".repeat(64)}`,
            }),
          /does not match/,
        );
      });

      it("a body changed after signing", async () => {
        const signed = bodyOf({ payload: payload(widgets) });
        await expectNothingProcessed(
          async (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: payload(widgets, 8),
              secret: null,
              deliveryId,
              signature: await sign(widgets.secret as string, signed),
            }),
          /does not match/,
        );
      });

      it("no signature at all", async () => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, { event: "pull_request", payload: payload(widgets), secret: null, deliveryId }),
          /missing/,
        );
      });

      it.each([
        ["sha1=", `sha1=${"a".repeat(40)}`],
        ["too short", "sha256=abc"],
        ["not hex", `sha256=${"z".repeat(64)}`],
        ["empty", ""],
      ])("a malformed signature (%s)", async (_name, signature) => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: payload(widgets),
              secret: null,
              deliveryId,
              signature,
            }),
          /missing|malformed/,
        );
      });

      it("a signature made with another repo's secret", async () => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: payload(widgets),
              secret: gadgets.secret,
              deliveryId,
            }),
          /does not match a webhook secret Shepherd holds for Acme\/Widgets/,
        );
        expect(refusalReasons(server)).toContainEqual(
          expect.stringMatching(/does not match the webhook secret of/),
        );
      });

      it("a repository that is not registered", async () => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: payload({ ...widgets, repo: "unknown" }),
              secret: widgets.secret,
              deliveryId,
            }),
          // The same answer as a wrong signature: callers cannot probe which repos are registered.
          /does not match a webhook secret Shepherd holds for Acme\/unknown/,
        );
        expect(refusalReasons(server)).toContain("no registered repo");
      });

      it("a payload without a repository", async () => {
        await expectNothingProcessed(
          (deliveryId) =>
            deliver(server, {
              event: "pull_request",
              payload: { action: "opened", pull_request: { number: 7 } },
              secret: widgets.secret,
              deliveryId,
            }),
          /names no repository/,
        );
      });

      it("a repo without a webhook secret, and one whose secret file is gone", async () => {
        const bare = await registerRepo(server, { owner: "acme", repo: "bare", secret: null });
        const bareEvents = (await probe.webhookEvents()).length;
        const response = await deliver(server, {
          event: "pull_request",
          payload: payload(bare),
          secret: "whatever",
        });
        expect([response.statusCode, codeOf(response.body)]).toEqual([401, "INVALID_SIGNATURE"]);
        expect(response.json<{ error: { message: string } }>().error.message).toMatch(
          /does not match a webhook secret Shepherd holds for/,
        );
        expect(refusalReasons(server)).toContainEqual(
          expect.stringMatching(/has no readable webhook secret/),
        );
        expect((await probe.webhookEvents()).length).toBe(bareEvents);

        const lost = await registerRepo(server, { owner: "acme", repo: "lost" });
        await rm(path.join(server.home, "secrets", `${lost.name}-hook`));
        const deliveryId = randomUUID();
        const again = await deliver(server, {
          event: "pull_request",
          payload: payload(lost),
          secret: lost.secret,
          deliveryId,
        });
        expect([again.statusCode, codeOf(again.body)]).toEqual([401, "INVALID_SIGNATURE"]);
        expect(await probe.deliveries.get(deliveryId)).toBeNull();
      });

      it("a removed repo's deliveries are refused", async () => {
        const gone = await registerRepo(server, { owner: "acme", repo: "gone" });
        const removed = await server.app.inject({
          method: "DELETE",
          url: `/api/v1/repos/${gone.id}`,
          headers: { authorization: `Bearer ${server.adminToken}` },
        });
        expect(removed.statusCode).toBe(200);
        const response = await deliver(server, {
          event: "pull_request",
          payload: payload(gone),
          secret: gone.secret,
        });
        expect([response.statusCode, codeOf(response.body)]).toEqual([401, "INVALID_SIGNATURE"]);
      });

      it("the log says why, and never carries the signature or the secret", async () => {
        const signature = `sha256=${"e".repeat(64)}`;
        const deliveryId = randomUUID();
        await deliver(server, {
          event: "pull_request",
          payload: payload(widgets),
          secret: null,
          deliveryId,
          signature,
        });
        const ok = randomUUID();
        await deliver(server, {
          event: "pull_request",
          payload: payload(widgets),
          secret: widgets.secret,
          deliveryId: ok,
        });
        const lines = server.logs.records().filter((r) => r.msg === "webhook delivery");
        expect(lines.find((r) => r.deliveryId === deliveryId)).toMatchObject({
          event: "pull_request",
          outcome: "rejected",
          code: "INVALID_SIGNATURE",
        });
        expect(lines.find((r) => r.deliveryId === ok)).toMatchObject({
          event: "pull_request",
          action: "synchronize",
          repo: widgets.name,
          outcome: "accepted",
        });
        expect(lines.filter((r) => r.deliveryId === ok)).toHaveLength(1);
        expect(server.logs.text).not.toContain("e".repeat(64));
        expect(server.logs.text).not.toContain(widgets.secret);
        expect(server.logs.text).not.toContain(gadgets.secret);
      });
    });

    describe("idempotency by X-GitHub-Delivery", () => {
      it("a replayed delivery answers duplicate, with no second event and no second dirty mark", async () => {
        const pull = await probe.trackedPull(widgets.id, 11, SHA_A);
        const deliveryId = randomUUID();
        const input = {
          event: "pull_request",
          payload: {
            action: "edited",
            number: 11,
            pull_request: { number: 11 },
            repository: repositoryOf(widgets),
          },
          secret: widgets.secret,
          deliveryId,
        };
        const first = await deliver(server, input);
        expect([first.statusCode, first.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(pull.id)).not.toBeNull();
        await probe.cleanPull(pull.id);
        const before = (await probe.webhookEvents()).length;
        const second = await deliver(server, input);
        expect([second.statusCode, second.json()]).toEqual([200, { status: "duplicate" }]);
        expect(await probe.dirtyAt(pull.id)).toBeNull();
        expect((await probe.webhookEvents()).length).toBe(before);
        expect((await probe.webhookEvents()).filter((e) => e.deliveryId === deliveryId)).toHaveLength(1);
      });

      it("ten concurrent copies of one delivery: exactly one is processed", async () => {
        await probe.trackedPull(widgets.id, 12, SHA_A);
        const deliveryId = randomUUID();
        const input = {
          event: "pull_request",
          payload: {
            action: "edited",
            number: 12,
            pull_request: { number: 12 },
            repository: repositoryOf(widgets),
          },
          secret: widgets.secret,
          deliveryId,
        };
        const responses = await Promise.all(Array.from({ length: 10 }, () => deliver(server, input)));
        const statuses = responses
          .map((r) => `${r.statusCode} ${r.json<{ status: string }>().status}`)
          .sort();
        expect(statuses).toEqual(
          ["200 duplicate", ...Array<string>(8).fill("200 duplicate"), "202 accepted"].sort(),
        );
        expect((await probe.webhookEvents()).filter((e) => e.deliveryId === deliveryId)).toHaveLength(1);
      });

      it("a replayed ping answers duplicate too", async () => {
        const deliveryId = randomUUID();
        const ping = { zen: "Keep it logically awesome.", hook_id: 1, repository: repositoryOf(widgets) };
        const first = await deliver(server, {
          event: "ping",
          payload: ping,
          secret: widgets.secret,
          deliveryId,
        });
        expect([first.statusCode, first.json()]).toEqual([200, { status: "pong" }]);
        const second = await deliver(server, {
          event: "ping",
          payload: ping,
          secret: widgets.secret,
          deliveryId,
        });
        expect([second.statusCode, second.json()]).toEqual([200, { status: "duplicate" }]);
      });
    });

    describe("bodies", () => {
      it("form-encoded deliveries (payload=<json>) are verified over the raw form and accepted", async () => {
        const pull = await probe.trackedPull(widgets.id, 21, SHA_A);
        const response = await deliver(server, {
          event: "pull_request",
          form: true,
          payload: {
            action: "synchronize",
            number: 21,
            pull_request: { number: 21, title: "a & b = c?" },
            repository: repositoryOf(widgets),
          },
          secret: widgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(pull.id)).not.toBeNull();
      });

      it("the signature is checked over the exact bytes sent (whitespace, escapes, non-ASCII)", async () => {
        const pull = await probe.trackedPull(widgets.id, 22, SHA_A);
        const full = JSON.stringify(repositoryOf(widgets).full_name);
        const text = `{\n  "action" : "edited",\t"number":22,\r\n "pull_request": {"number": 22, "title": "caf\u00e9 — naïve ✓"},\n "repository": {"id": 1296269, "full_name": ${full}}\n}\n`;
        const response = await deliver(server, {
          event: "pull_request",
          payload: text,
          secret: widgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(pull.id)).not.toBeNull();
      });

      it("a form without payload= and a body that is not JSON are 400s with the envelope", async () => {
        const form = "other=1";
        const noPayload = await server.app.inject({
          method: "POST",
          url: "/webhooks/github",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "x-github-event": "pull_request",
            "x-github-delivery": randomUUID(),
            "x-hub-signature-256": await sign(widgets.secret as string, form),
          },
          payload: form,
        });
        expect([noPayload.statusCode, codeOf(noPayload.body)]).toEqual([400, "MALFORMED_REQUEST"]);
        for (const text of ["not json", "{", "[1,2]", "42"]) {
          const response = await deliver(server, {
            event: "pull_request",
            payload: text,
            secret: widgets.secret,
          });
          expect([response.statusCode, codeOf(response.body)], text).toEqual([400, "MALFORMED_REQUEST"]);
        }
      });

      it("a body that is not UTF-8 is refused before its signature is checked", async () => {
        const raw = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
        const response = await server.app.inject({
          method: "POST",
          url: "/webhooks/github",
          headers: {
            "content-type": "application/json",
            "x-github-event": "pull_request",
            "x-github-delivery": randomUUID(),
            "x-hub-signature-256": `sha256=${"1".repeat(64)}`,
          },
          payload: raw,
        });
        expect([response.statusCode, codeOf(response.body)]).toEqual([400, "MALFORMED_REQUEST"]);
      });

      it("other content types are 415s", async () => {
        const response = await server.app.inject({
          method: "POST",
          url: "/webhooks/github",
          headers: {
            "content-type": "text/plain",
            "x-github-event": "ping",
            "x-github-delivery": randomUUID(),
          },
          payload: "hello",
        });
        expect([response.statusCode, codeOf(response.body)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
      });

      it("a body over 25 MB is a 413 with the envelope; one over the API's 1 MB limit is accepted", async () => {
        const big = {
          action: "edited",
          number: 31,
          pull_request: { number: 31, body: "x".repeat(3 * 1024 * 1024) },
          repository: repositoryOf(widgets),
        };
        const accepted = await deliver(server, {
          event: "pull_request",
          payload: big,
          secret: widgets.secret,
        });
        expect(accepted.statusCode, accepted.body).toBe(202);
        const huge = { ...big, pull_request: { number: 31, body: "x".repeat(25 * 1024 * 1024) } };
        const refused = await deliver(server, {
          event: "pull_request",
          payload: huge,
          secret: widgets.secret,
        });
        expect([refused.statusCode, codeOf(refused.body)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
      });

      it("missing or malformed X-GitHub-Event / X-GitHub-Delivery are 422s", async () => {
        const payload = { zen: "z", repository: repositoryOf(widgets) };
        const invalid: Record<string, string>[] = [
          { "x-github-delivery": "" },
          { "x-github-delivery": "../../etc/passwd" },
          { "x-github-delivery": "a".repeat(101) },
          { "x-github-event": "" },
          { "x-github-event": "pull request" },
        ];
        for (const headers of invalid) {
          const response = await deliver(server, { event: "ping", payload, secret: widgets.secret, headers });
          expect([response.statusCode, codeOf(response.body)], JSON.stringify(headers)).toEqual([
            422,
            "VALIDATION_ERROR",
          ]);
        }
      });
    });

    describe("what a delivery marks dirty", () => {
      // Fresh head commits per test, so that PRs tracked by earlier tests never match.
      let shaA: string;
      let shaB: string;

      beforeEach(async () => {
        shaA = randomBytes(20).toString("hex");
        shaB = randomBytes(20).toString("hex");
        // Each test starts with gadgets' PRs clean.
        await server.running.database.db
          .updateTable("pull_requests")
          .set({ dirty_at: null })
          .where("repo_id", "=", gadgets.id)
          .execute();
        await probe.observations.update(gadgets.id, { dirtyAt: null }, Date.now());
      });

      async function lastEvent(): Promise<Json | undefined> {
        return (await probe.webhookEvents()).at(-1);
      }

      it("pull_request (any action) marks its PR by number; opened also marks the repo's PR list", async () => {
        const mine = await probe.trackedPull(gadgets.id, 41, shaA);
        const other = await probe.trackedPull(gadgets.id, 42, shaB);
        const elsewhere = await probe.trackedPull(widgets.id, 41, shaA);
        const edited = await deliver(server, {
          event: "pull_request",
          payload: {
            action: "labeled",
            number: 41,
            pull_request: { number: 41 },
            repository: repositoryOf(gadgets),
          },
          secret: gadgets.secret,
        });
        expect([edited.statusCode, edited.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(mine.id)).not.toBeNull();
        expect(await probe.dirtyAt(other.id)).toBeNull();
        expect(await probe.dirtyAt(elsewhere.id)).toBeNull();
        expect((await probe.observations.get(gadgets.id))?.dirtyAt).toBeNull();
        expect(await lastEvent()).toMatchObject({
          event: "pull_request",
          action: "labeled",
          numbers: [41],
          dirty: 1,
        });

        const opened = await deliver(server, {
          event: "pull_request",
          payload: {
            action: "opened",
            number: 43,
            pull_request: { number: 43 },
            repository: repositoryOf(gadgets),
          },
          secret: gadgets.secret,
        });
        // Not tracked yet: nothing to mark, but the list must be read again to discover it.
        expect([opened.statusCode, opened.json()]).toEqual([202, { status: "accepted", dirty: 0 }]);
        const observation = await probe.observations.get(gadgets.id);
        expect(observation?.dirtyAt).not.toBeNull();
        expect(observation?.webhookLastDeliveryAt).not.toBeNull();
        expect(await lastEvent()).toMatchObject({ numbers: [43], listDirty: true, dirty: 0 });
      });

      it.each(["pull_request_review", "pull_request_review_comment", "pull_request_review_thread"])(
        "%s marks its PR by number",
        async (event) => {
          const pull = await probe.trackedPull(gadgets.id, 51, shaA);
          const response = await deliver(server, {
            event,
            payload: { action: "submitted", pull_request: { number: 51 }, repository: repositoryOf(gadgets) },
            secret: gadgets.secret,
          });
          expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
          expect(await probe.dirtyAt(pull.id)).not.toBeNull();
        },
      );

      it("check_run marks the PRs at its head sha (also a fork's, not listed in pull_requests)", async () => {
        const atHead = await probe.trackedPull(gadgets.id, 61, shaA);
        const elsewhere = await probe.trackedPull(gadgets.id, 62, shaB);
        const response = await deliver(server, {
          event: "check_run",
          payload: {
            action: "completed",
            check_run: { id: 1, head_sha: shaA, pull_requests: [] },
            repository: repositoryOf(gadgets),
          },
          secret: gadgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(atHead.id)).not.toBeNull();
        expect(await probe.dirtyAt(elsewhere.id)).toBeNull();
        expect(await lastEvent()).toMatchObject({
          event: "check_run",
          numbers: [61],
          headSha: shaA,
          dirty: 1,
        });
      });

      it("check_suite marks the PRs it lists whose base is this repo, and those at its head", async () => {
        const listed = await probe.trackedPull(gadgets.id, 71, shaB);
        const atHead = await probe.trackedPull(gadgets.id, 72, shaA);
        const foreign = await probe.trackedPull(gadgets.id, 73, shaB);
        const repository = repositoryOf(gadgets);
        const response = await deliver(server, {
          event: "check_suite",
          payload: {
            action: "completed",
            check_suite: {
              head_sha: shaA,
              pull_requests: [
                { number: 71, base: { repo: { id: repository.id, name: "gadgets" } } },
                // A PR of another repository whose head is this commit: not ours to mark.
                { number: 73, base: { repo: { id: 999, name: "elsewhere" } } },
              ],
            },
            repository,
          },
          secret: gadgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 2 }]);
        expect(await probe.dirtyAt(listed.id)).not.toBeNull();
        expect(await probe.dirtyAt(atHead.id)).not.toBeNull();
        expect(await probe.dirtyAt(foreign.id)).toBeNull();
        expect(await lastEvent()).toMatchObject({ numbers: [71, 72] });
      });

      it("status marks the PRs whose head is its sha", async () => {
        const atHead = await probe.trackedPull(gadgets.id, 81, shaB);
        const other = await probe.trackedPull(gadgets.id, 82, shaA);
        const response = await deliver(server, {
          event: "status",
          payload: { sha: shaB, state: "failure", context: "ci", repository: repositoryOf(gadgets) },
          secret: gadgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(atHead.id)).not.toBeNull();
        expect(await probe.dirtyAt(other.id)).toBeNull();
        expect(await lastEvent()).toMatchObject({ event: "status", numbers: [81], dirty: 1 });
      });

      it("issue_comment marks the PR of a PR conversation, and nothing for a plain issue", async () => {
        const pull = await probe.trackedPull(gadgets.id, 91, shaA);
        const plain = await deliver(server, {
          event: "issue_comment",
          payload: { action: "created", issue: { number: 91 }, repository: repositoryOf(gadgets) },
          secret: gadgets.secret,
        });
        expect([plain.statusCode, plain.json()]).toEqual([202, { status: "accepted", dirty: 0 }]);
        expect(await probe.dirtyAt(pull.id)).toBeNull();
        expect(await lastEvent()).toMatchObject({ event: "issue_comment", numbers: [], dirty: 0 });
        const onPull = await deliver(server, {
          event: "issue_comment",
          payload: {
            action: "created",
            issue: {
              number: 91,
              pull_request: { url: "https://api.github.com/repos/acme/gadgets/pulls/91" },
            },
            repository: repositoryOf(gadgets),
          },
          secret: gadgets.secret,
        });
        expect([onPull.statusCode, onPull.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(pull.id)).not.toBeNull();
      });

      it("other events are recorded and ignored", async () => {
        const pull = await probe.trackedPull(gadgets.id, 95, shaA);
        const deliveryId = randomUUID();
        const response = await deliver(server, {
          event: "push",
          payload: { ref: "refs/heads/main", after: shaA, repository: repositoryOf(gadgets) },
          secret: gadgets.secret,
          deliveryId,
        });
        expect([response.statusCode, response.json()]).toEqual([200, { status: "ignored" }]);
        expect(await probe.dirtyAt(pull.id)).toBeNull();
        expect((await probe.deliveries.get(deliveryId))?.event).toBe("push");
      });

      it("the owner/repo match is case-insensitive", async () => {
        const pull = await probe.trackedPull(widgets.id, 96, shaA);
        const response = await deliver(server, {
          event: "pull_request",
          payload: {
            action: "edited",
            number: 96,
            pull_request: { number: 96 },
            repository: { ...repositoryOf(widgets), full_name: "ACME/widgets" },
          },
          secret: widgets.secret,
        });
        expect([response.statusCode, response.json()]).toEqual([202, { status: "accepted", dirty: 1 }]);
        expect(await probe.dirtyAt(pull.id)).not.toBeNull();
      });
    });
  });
});
