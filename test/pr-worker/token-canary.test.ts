import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { gitClient } from "../support/github-sim/git-client.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";

/**
 * SPEC C3 "Token safety": a canary token used for one repo must never appear in logs, events, API
 * responses, database rows, PR titles/bodies/comments, commit messages, `.git/config` or any file
 * in the clone, process argv, error strings or `pr_open_error`.
 */
const CANARY = `ghp_CANARY${"Zq7".repeat(10)}xy`;

/** Samples every process's argv while git runs; `git` processes seen prove the sampling saw them. */
class ArgvSampler {
  readonly leaks: string[] = [];
  gitProcessesSeen = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(private readonly needle: string) {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
      for (const pid of pids) {
        const argv = await readFile(`/proc/${pid}/cmdline`).catch(() => null);
        if (!argv || argv.length === 0) continue;
        const text = argv.toString("utf8").split("\0").join(" ");
        if (/(^|\/)git(-remote-https?)?\s/.test(text)) this.gitProcessesSeen++;
        if (text.includes(this.needle)) this.leaks.push(text);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(full);
    else if (entry.isFile()) yield full;
  }
}

describe.each(DATABASE_KINDS)("token canary ($kind)", ({ kind, skip }) => {
  let h: PrHarness;

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  it.skipIf(skip)(
    "never appears on any surface, through a success and several failures",
    async () => {
      h = await startPrHarness({ kind });
      const sampler = new ArgvSampler(CANARY);
      const responses: string[] = [];
      const api = async (method: string, url: string, body?: unknown): Promise<unknown> => {
        const answer = await h.api(method, url, body);
        responses.push(JSON.stringify(answer.body));
        return answer.body;
      };

      const repo = await h.addRepo({
        name: "canary",
        token: CANARY,
        files: { "p.json": '{"a": 1, "b": 2}\n' },
      });
      // A success with a chart and a comment.
      const good = (await api("POST", "/api/v1/proposals", {
        repoId: repo.name,
        title: "Tune a",
        kind: "params",
        change: { path: "p.json", set: { a: { to: 3 } } },
        evidence: { summary: "better", importance: { a: 0.7, b: 0.3 } },
      })) as { id: string };
      await api("POST", `/api/v1/proposals/${good.id}/open-pr`);
      expect((await h.settled(good.id)).status).toBe("pr_opened");
      // A failure in the worker (drift), one at GitHub (422) and one of the token itself (revoked).
      const drift = (await api("POST", "/api/v1/proposals", {
        repoId: repo.name,
        title: "Drifted",
        kind: "params",
        change: { path: "p.json", set: { b: { from: 9, to: 3 } } },
      })) as { id: string };
      await api("POST", `/api/v1/proposals/${drift.id}/open-pr`);
      await h.settled(drift.id);
      h.sim.admin.addFault({
        match: { method: "POST", path: "/pulls$" },
        times: 1,
        action: {
          type: "status",
          status: 422,
          body: { message: "Validation Failed", errors: [{ code: "custom", message: "nope" }] },
        },
      });
      const refused = (await api("POST", "/api/v1/proposals", {
        repoId: repo.name,
        title: "Refused",
        kind: "files",
        change: { files: [{ path: "x.txt", content: "x" }] },
      })) as { id: string };
      await api("POST", `/api/v1/proposals/${refused.id}/open-pr`);
      await h.settled(refused.id);
      await api("POST", `/api/v1/repos/${repo.name}/check`);
      h.sim.admin.revokeToken(CANARY);
      const revoked = (await api("POST", "/api/v1/proposals", {
        repoId: repo.name,
        title: "Revoked",
        kind: "files",
        change: { files: [{ path: "y.txt", content: "y" }] },
      })) as { id: string };
      await api("POST", `/api/v1/proposals/${revoked.id}/open-pr`);
      const revokedDone = await h.settled(revoked.id);
      expect(revokedDone.prOpenError).toMatch(/^GITHUB_AUTH_FAILED/);
      await api("POST", `/api/v1/repos/${repo.name}/check`);
      await sampler.stop();

      // Everything readable through the API.
      for (const url of [
        "/api/v1/repos",
        `/api/v1/repos/${repo.name}`,
        "/api/v1/proposals",
        "/api/v1/status",
        "/api/v1/openapi.json",
      ]) {
        await api("GET", url);
      }
      for (const id of [good.id, drift.id, refused.id, revoked.id])
        await api("GET", `/api/v1/proposals/${id}`);
      const metrics = await h.server.app.inject({ method: "GET", url: "/metrics" });
      responses.push(metrics.body);
      const events = await h.server.running.events.list({ limit: 10_000 });

      // Every table of the database (and pg-boss's schema on PostgreSQL).
      const db = h.server.running.database;
      const tables =
        db.dialect === "sqlite"
          ? (
              await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db.db)
            ).rows.map((r) => `"${r.name}"`)
          : (
              await sql<{
                schema: string;
                name: string;
              }>`select table_schema as schema, table_name as name from information_schema.tables where table_schema in ('public', 'pgboss') and table_type = 'BASE TABLE'`.execute(
                db.db,
              )
            ).rows.map((r) => `"${r.schema}"."${r.name}"`);
      expect(tables.length).toBeGreaterThan(4);
      const rows: string[] = [];
      for (const table of tables) {
        rows.push(JSON.stringify((await sql.raw(`select * from ${table}`).execute(db.db)).rows));
      }

      // What reached GitHub: PRs, comments, commit messages.
      const github: string[] = [];
      for (const pull of h.sim.admin.pulls(repo.owner, repo.repo)) {
        github.push(pull.title, pull.body ?? "");
        for (const comment of h.sim.admin.issueComments(repo.owner, repo.repo, pull.number))
          github.push(comment.body);
      }
      const gitHome = path.join(h.server.home, "git-home");
      const cloneDir = path.join(h.server.home, "clones", repo.repoId);
      github.push(
        await gitClient(["log", "--all", "--format=%B"], { cwd: cloneDir, home: gitHome, token: null }),
      );

      // Every file of the clone, .git/config included.
      const cloneFiles: string[] = [];
      for await (const file of filesUnder(cloneDir)) {
        const bytes = await readFile(file);
        if (bytes.includes(CANARY)) cloneFiles.push(file);
      }
      const gitConfig = await readFile(path.join(cloneDir, ".git", "config"), "utf8");
      expect(gitConfig).toContain('[remote "origin"]');

      h.server.running.logger.flush();
      const surfaces: Record<string, string[]> = {
        logs: h.server.logs.text.includes(CANARY) ? ["log output"] : [],
        events: events.filter((e) => e.payloadJson.includes(CANARY)).map((e) => e.kind),
        apiResponses: responses.filter((text) => text.includes(CANARY)),
        databaseRows: rows.filter((text) => text.includes(CANARY)),
        github: github.filter((text) => text.includes(CANARY)),
        cloneFiles,
        argv: sampler.leaks,
      };
      expect(surfaces).toEqual({
        logs: [],
        events: [],
        apiResponses: [],
        databaseRows: [],
        github: [],
        cloneFiles: [],
        argv: [],
      });
      // The sampler really saw git at work, so an empty argv list means something.
      expect(sampler.gitProcessesSeen).toBeGreaterThan(0);
      // The failures were recorded (with their codes) but without the token.
      const errors = [drift.id, refused.id, revoked.id].map(
        async (id) => (await h.proposal(id)).prOpenError ?? "",
      );
      expect(
        (await Promise.all(errors)).every((text) => /^[A-Z_]+: /.test(text) && !text.includes(CANARY)),
      ).toBe(true);
    },
    120_000,
  );
});
