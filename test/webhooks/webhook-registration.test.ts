import { randomUUID } from "node:crypto";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { WEBHOOK_EVENTS } from "../../src/services/webhook-intake.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { callSim } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";
import type { WebhookRegistrationResult } from "../../src/services/webhook-registration.js";
import { freePort } from "../support/processes.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { waitFor } from "../support/wait-for.js";
import { registerRepo, WebhookProbe } from "./webhook-support.js";

/**
 * SPEC C4 "`POST /api/v1/repos/{id}/webhook` can register the hook on GitHub", end to end: the
 * server runs with its public URL pointing at itself, the GitHub simulator creates the hook and then
 * delivers real signed webhooks to it over loopback for every state change; what the simulator's
 * delivery log says it got back is what GitHub would show.
 */

const OWNER = "acme";

interface Envelope {
  error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

type Registration = WebhookRegistrationResult;

describe.each(DATABASE_KINDS)("webhook registration and delivery on $kind", ({ kind, skip }) => {
  let sim: GitHubSimulator;
  let server: TestServer;
  let probe: WebhookProbe;
  let publicUrl: string;
  let repoCount = 0;

  beforeAll(async () => {
    if (skip) return;
    sim = await startGitHubSimulator({ contentCreationPerMinute: 1000, webhooks: { retryDelaysMs: [50] } });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer({
      kind,
      configYaml: [
        "github:",
        `  url: ${sim.baseUrl}`,
        "  writeSpacingMs: 10",
        "  requestTimeoutSeconds: 5",
        "  retryBaseMs: 100",
      ].join("\n"),
      env: { SHEPHERD_PORT: String(port), SHEPHERD_PUBLIC_URL: publicUrl },
    });
    probe = new WebhookProbe(server);
  });

  afterAll(async () => {
    await server?.stop();
    await sim?.stop();
  });

  async function api<T>(method: string, url: string): Promise<{ status: number; body: T }> {
    const response = await server.app.inject({
      method: method as "POST",
      url,
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    return { status: response.statusCode, body: response.json<T>() };
  }

  /** A simulator repo, its token (with `permissions` over the defaults) and its registration. */
  async function hookedRepo(
    options: {
      permissions?: Record<string, "read" | "write" | null>;
      secret?: string | null;
      /** The token is for another repository (GitHub then answers 404). */
      otherRepo?: boolean;
    } = {},
  ): Promise<{ id: string; name: string; repo: string; token: string; secret: string | null }> {
    repoCount += 1;
    const repo = `hooked-${repoCount}`;
    await sim.admin.createRepo({ owner: OWNER, name: repo, files: { "README.md": "hi\n" } });
    if (options.otherRepo) await sim.admin.createRepo({ owner: OWNER, name: `${repo}-other`, files: {} });
    const token = sim.admin.createToken({
      repos: [`${OWNER}/${options.otherRepo ? `${repo}-other` : repo}`],
      ...(options.permissions ? { permissions: options.permissions } : {}),
    });
    const registered = await registerRepo(server, { owner: OWNER, repo, secret: options.secret });
    // registerRepo wrote a placeholder token: this repo's token is the simulator's.
    await writeFile(path.join(server.home, "secrets", `${registered.name}-token`), `${token}\n`, {
      mode: 0o600,
    });
    return { id: registered.id, name: registered.name, repo, token, secret: registered.secret };
  }

  async function simHooks(repo: string, token: string): Promise<{ id: number; config: { url: string } }[]> {
    const answer = await callSim(sim.baseUrl, "GET", `/repos/${OWNER}/${repo}/hooks`, { token });
    expect(answer.status).toBe(200);
    return answer.json as { id: number; config: { url: string } }[];
  }

  describe.skipIf(skip)("", () => {
    it("registers the hook once, and the simulator's signed deliveries are verified and accepted", async () => {
      const repo = await hookedRepo();
      const first = await api<Registration>("POST", `/api/v1/repos/${repo.id}/webhook`);
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(first.body).toMatchObject({
        repoId: repo.id,
        repository: `${OWNER}/${repo.repo}`,
        url: `${publicUrl}/webhooks/github`,
        created: true,
        active: true,
      });
      expect([...first.body.events].sort()).toEqual([...WEBHOOK_EVENTS].sort());
      expect((await probe.observations.get(repo.id))?.webhookHookId).toBe(first.body.hookId);

      // GitHub pings a new hook: the ping reached Shepherd over loopback and was verified.
      await sim.admin.flushDeliveries();
      const ping = sim.admin.deliveries({ owner: OWNER, repo: repo.repo }).find((d) => d.event === "ping");
      expect(ping).toMatchObject({ status: "delivered", statusCode: 200 });

      sim.admin.clearRequests();
      const second = await api<Registration>("POST", `/api/v1/repos/${repo.name}/webhook`);
      expect([second.status, second.body.created, second.body.hookId]).toEqual([
        200,
        false,
        first.body.hookId,
      ]);
      // Found by listing, not by trying to create a second one.
      expect(sim.admin.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
        `GET /api/v3/repos/${OWNER}/${repo.repo}/hooks`,
      ]);
      const hooks = await simHooks(repo.repo, repo.token);
      expect(hooks.map((hook) => [hook.id, hook.config.url])).toEqual([
        [first.body.hookId, `${publicUrl}/webhooks/github`],
      ]);

      // A pull request opened on GitHub: delivered, verified, accepted; the repo list is marked.
      const head = await sim.admin.pushFiles({
        owner: OWNER,
        repo: repo.repo,
        branch: "feature",
        files: { "README.md": "changed\n" },
      });
      const created = await callSim(sim.baseUrl, "POST", `/repos/${OWNER}/${repo.repo}/pulls`, {
        token: repo.token,
        body: { title: "Change", head: "feature", base: "main" },
      });
      expect(created.status).toBe(201);
      const pull = created.json as { number: number; node_id: string };
      await sim.admin.flushDeliveries();
      const opened = sim.admin
        .deliveries({ owner: OWNER, repo: repo.repo })
        .find((d) => d.event === "pull_request" && d.action === "opened");
      expect(opened).toMatchObject({ status: "delivered", statusCode: 202 });
      expect((await probe.observations.get(repo.id))?.dirtyAt).not.toBeNull();

      // Once tracked, a comment and a check run on its head mark it dirty.
      const tracked = await probe.trackedPull(repo.id, pull.number, head);
      const comment = await callSim(
        sim.baseUrl,
        "POST",
        `/repos/${OWNER}/${repo.repo}/issues/${pull.number}/comments`,
        { token: repo.token, body: { body: "please rebase" } },
      );
      expect(comment.status).toBe(201);
      sim.admin.setCheckRun({
        owner: OWNER,
        repo: repo.repo,
        sha: head,
        name: "ci",
        status: "completed",
        conclusion: "failure",
        log: "boom\n",
      });
      await sim.admin.flushDeliveries();
      const deliveries = sim.admin.deliveries({ owner: OWNER, repo: repo.repo });
      const commented = deliveries.find((d) => d.event === "issue_comment");
      const checked = deliveries.find((d) => d.event === "check_run");
      expect(commented).toMatchObject({ status: "delivered", statusCode: 202 });
      expect(checked).toMatchObject({ status: "delivered", statusCode: 202 });
      // Every delivery got a 2xx: nothing the simulator sent was refused.
      expect(deliveries.filter((d) => d.status !== "delivered")).toEqual([]);
      const events = await probe.webhookEvents();
      expect(events.find((e) => e.deliveryId === commented?.guid)).toMatchObject({
        event: "issue_comment",
        repoId: repo.id,
        numbers: [pull.number],
        dirty: 1,
      });
      expect(events.find((e) => e.deliveryId === checked?.guid)).toMatchObject({
        event: "check_run",
        numbers: [pull.number],
        dirty: 1,
      });
      expect(await probe.dirtyAt(tracked.id)).not.toBeNull();

      // GitHub's "Redeliver": same X-GitHub-Delivery, no second effect.
      await probe.cleanPull(tracked.id);
      const before = events.length;
      sim.admin.redeliver((commented as { id: number }).id);
      await sim.admin.flushDeliveries();
      const redelivered = sim.admin
        .deliveries({ owner: OWNER, repo: repo.repo })
        .filter((d) => d.guid === commented?.guid);
      expect(redelivered.map((d) => [d.redelivery, d.statusCode])).toEqual([
        [false, 202],
        [true, 200],
      ]);
      expect((await probe.webhookEvents()).length).toBe(before);
      expect(await probe.dirtyAt(tracked.id)).toBeNull();
    });

    it.each([
      ["without the webhooks permission", { permissions: { webhooks: null } }, 403],
      ["with webhooks read only", { permissions: { webhooks: "read" as const } }, 403],
      ["that cannot see the repository", { otherRepo: true }, 404],
    ])(
      "a token %s: a clear 422 naming the missing permission, and no hook",
      async (_name, options, githubStatus) => {
        const repo = await hookedRepo(options);
        const answer = await api<Envelope>("POST", `/api/v1/repos/${repo.id}/webhook`);
        expect([answer.status, answer.body.error.code], JSON.stringify(answer.body)).toEqual([
          422,
          "REPO_NOT_CONFIGURED",
        ]);
        expect(answer.body.error.message).toMatch(/Webhooks: read and write/);
        expect(answer.body.error.message).toMatch(new RegExp(`${OWNER}/${repo.repo}`));
        expect(answer.body.error.message).toMatch(new RegExp(`GitHub answered ${githubStatus}`));
        expect(answer.body.error.details).toMatchObject({ permission: "webhooks:write", githubStatus });
        expect(JSON.stringify(answer.body)).not.toContain(repo.token);
        expect((await probe.observations.get(repo.id))?.webhookHookId ?? null).toBeNull();
        const admin = sim.admin.createToken({ repos: [`${OWNER}/${repo.repo}`] });
        expect(await simHooks(repo.repo, admin)).toEqual([]);
      },
    );

    it("preconditions in order: 404, no webhook secret, unreadable secret, unreadable token", async () => {
      const missing = await api<Envelope>("POST", "/api/v1/repos/no-such-repo/webhook");
      expect([missing.status, missing.body.error.code]).toEqual([404, "REPO_NOT_FOUND"]);

      const bare = await hookedRepo({ secret: null });
      const noSecret = await api<Envelope>("POST", `/api/v1/repos/${bare.id}/webhook`);
      expect([noSecret.status, noSecret.body.error.code]).toEqual([422, "REPO_NOT_CONFIGURED"]);
      expect(noSecret.body.error.message).toMatch(/no webhook secret/);

      const lost = await hookedRepo();
      await rm(path.join(server.home, "secrets", `${lost.name}-hook`));
      const unreadable = await api<Envelope>("POST", `/api/v1/repos/${lost.id}/webhook`);
      expect([unreadable.status, unreadable.body.error.code]).toEqual([422, "REPO_NOT_CONFIGURED"]);
      expect(unreadable.body.error.message).toMatch(/webhook secret of repo .* cannot be read/);

      const tokenless = await hookedRepo();
      await rm(path.join(server.home, "secrets", `${tokenless.name}-token`));
      const noToken = await server.app.inject({
        method: "POST",
        url: `/api/v1/repos/${tokenless.id}/webhook`,
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      expect([noToken.statusCode, noToken.json<Envelope>().error.code]).toEqual([
        503,
        "GITHUB_NOT_CONFIGURED",
      ]);
      expect(noToken.headers["retry-after"]).toBe("30");
      for (const repo of [bare, lost, tokenless]) expect(await simHooks(repo.repo, repo.token)).toEqual([]);
    });

    describe("shepherd repo webhook <name>", () => {
      let written: string[];

      afterEach(() => {
        vi.restoreAllMocks();
      });

      async function cli(...args: string[]): Promise<string> {
        written = [];
        vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
          written.push(String(chunk));
          return true;
        });
        await buildProgram().parseAsync([
          "node",
          "shepherd",
          "--config",
          path.join(server.home, "shepherd.yaml"),
          "--url",
          server.url,
          "--token-file",
          path.join(server.home, "admin.token"),
          ...args,
        ]);
        vi.restoreAllMocks();
        return written.join("");
      }

      it("prints the hook URL and whether it was created", async () => {
        const repo = await hookedRepo();
        const created = await cli("repo", "webhook", repo.name);
        expect(created).toMatch(
          new RegExp(
            `^Created webhook \\d+ on ${OWNER}/${repo.repo}: GitHub delivers to ${publicUrl}/webhooks/github\\n$`,
          ),
        );
        const again = await cli("repo", "webhook", repo.name);
        expect(again).toMatch(/already delivers to .*\/webhooks\/github; nothing created\n$/);
        const json = JSON.parse(await cli("--json", "repo", "webhook", repo.name)) as Registration;
        expect(json).toMatchObject({ created: false, url: `${publicUrl}/webhooks/github` });
        await waitFor(async () => {
          await sim.admin.flushDeliveries();
          return sim.admin.deliveries({ owner: OWNER, repo: repo.repo }).some((d) => d.statusCode === 200);
        });
      });

      it("fails with the server's clear message", async () => {
        const repo = await hookedRepo({ permissions: { webhooks: null } });
        await expect(cli("repo", "webhook", repo.name)).rejects.toThrow(
          /Webhooks: read and write.*\[REPO_NOT_CONFIGURED\]/,
        );
      });
    });
  });
});

describe("webhook registration without a public URL", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("is a 422 REPO_NOT_CONFIGURED naming server.publicUrl, before GitHub is asked", async () => {
    const repo = await registerRepo(server, { owner: "acme", repo: `nowhere-${randomUUID().slice(0, 8)}` });
    const response = await server.app.inject({
      method: "POST",
      url: `/api/v1/repos/${repo.id}/webhook`,
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(response.statusCode).toBe(422);
    const envelope = response.json<Envelope>();
    expect(envelope.error.code).toBe("REPO_NOT_CONFIGURED");
    expect(envelope.error.message).toMatch(/server\.publicUrl \(SHEPHERD_PUBLIC_URL\)/);
  });
});
