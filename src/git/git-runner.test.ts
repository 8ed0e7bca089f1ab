import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubSimulator, type GitHubSimulator } from "../../test/support/github-sim/simulator.js";
import { waitFor } from "../../test/support/wait-for.js";
import { GitError, GitRunner, type GitObserver } from "./git-runner.js";

/**
 * The token-safe git runner (SPEC C3 step 4) with real git: credentials only in the environment,
 * no prompts, no host configuration, a timeout that kills the whole process group, redacted
 * errors, and an observer that sees every command.
 */

const IDENTITY = { name: "Shepherd Bot", email: "bot@shepherd.test" };

interface ObservedEvent {
  event: "started" | "finished";
  cwd: string;
  args: readonly string[];
  outcome?: "ok" | "failed" | "timed_out";
}

class RecordingObserver implements GitObserver {
  readonly events: ObservedEvent[] = [];
  started(cwd: string, args: readonly string[]): void {
    this.events.push({ event: "started", cwd, args: [...args] });
  }
  finished(
    cwd: string,
    args: readonly string[],
    outcome: "ok" | "failed" | "timed_out",
    durationMs: number,
  ): void {
    expect(durationMs).toBeGreaterThanOrEqual(0);
    this.events.push({ event: "finished", cwd, args: [...args], outcome });
  }
}

let sim: GitHubSimulator;
let token: string;
let work: string;
let home: string;
let counter = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  await sim.admin.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "hello\n" } });
  token = sim.admin.createToken({ repos: "*" });
  work = await mkdtemp(path.join(os.tmpdir(), "git-runner-test-"));
  home = path.join(work, "home");
  await mkdir(home);
});

afterEach(() => {
  sim.admin.clearFaults();
  sim.admin.releaseHeld();
  sim.admin.clearRequests();
});

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function makeRunner(options: { redact?: (text: string) => string; defaultTimeoutMs?: number } = {}): {
  runner: GitRunner;
  observer: RecordingObserver;
} {
  const observer = new RecordingObserver();
  const runner = new GitRunner({
    identity: IDENTITY,
    redact: options.redact ?? ((text) => text.replaceAll(token, "[TOKEN]")),
    homeDir: home,
    observer,
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  });
  return { runner, observer };
}

function freshDir(name: string): string {
  counter += 1;
  return path.join(work, `${name}-${counter}`);
}

function basicHeader(secret: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${secret}`).toString("base64")}`;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

/** Live (not zombie) processes whose command line mentions `needle`, with their process group. */
async function liveProcesses(
  filter: (info: { cmdline: string; pgrp: number }) => boolean,
): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).replaceAll("\0", " ");
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const state = fields[0];
      const pgrp = Number(fields[2]);
      if (state === "Z" || state === "X") continue;
      if (filter({ cmdline, pgrp })) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe("GitRunner.environment", () => {
  const SECRET = "ghp_CANARYcanary0123456789abcdefghijklmn";

  it("carries the token only in GIT_CONFIG_VALUE_*, as a basic auth header scoped to the remote base", () => {
    const { runner } = makeRunner();
    const env = runner.environment({ remoteBase: "https://github.example.com/", token: SECRET });
    const header = basicHeader(SECRET);

    expect(env.GIT_CONFIG_COUNT).toBe("3");
    const config = [0, 1, 2].map((index) => [
      env[`GIT_CONFIG_KEY_${index}`],
      env[`GIT_CONFIG_VALUE_${index}`],
    ]);
    expect(config).toEqual([
      ["credential.helper", ""],
      ["core.askPass", ""],
      ["http.https://github.example.com/.extraheader", header],
    ]);
    const encoded = header.replace("AUTHORIZATION: basic ", "");
    expect(Buffer.from(encoded, "base64").toString("utf8")).toBe(`x-access-token:${SECRET}`);

    // Nowhere else: not in any other value, not in any name, not even in encoded form.
    for (const [name, value] of Object.entries(env)) {
      expect(name).not.toContain(SECRET);
      if (name === "GIT_CONFIG_VALUE_2") continue;
      expect(value ?? "", name).not.toContain(SECRET);
      expect(value ?? "", name).not.toContain(encoded);
    }
    expect(JSON.stringify(env)).not.toContain(SECRET);
  });

  it("no auth → no header at all", () => {
    const { runner } = makeRunner();
    const env = runner.environment(undefined);
    expect(env.GIT_CONFIG_COUNT).toBe("2");
    expect(Object.values(env).some((value) => /extraheader|AUTHORIZATION/i.test(value ?? ""))).toBe(false);
    expect(env.GIT_CONFIG_KEY_2).toBeUndefined();
  });

  it("HOME is the given empty directory; no global or system config; no prompts; the bot identity", () => {
    const { runner } = makeRunner();
    const env = runner.environment({ remoteBase: "https://github.example.com", token: SECRET });
    expect(env).toMatchObject({
      HOME: home,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "",
      SSH_ASKPASS: "",
      GIT_AUTHOR_NAME: IDENTITY.name,
      GIT_AUTHOR_EMAIL: IDENTITY.email,
      GIT_COMMITTER_NAME: IDENTITY.name,
      GIT_COMMITTER_EMAIL: IDENTITY.email,
    });
    // The trailing slash of the base is normalised (one slash, never two).
    expect(env.GIT_CONFIG_KEY_2).toBe("http.https://github.example.com/.extraheader");
  });

  it("is built from scratch: nothing of the parent's environment leaks in but PATH", () => {
    const saved = { GIT_DIR: process.env.GIT_DIR, SOME_SECRET: process.env.SOME_SECRET };
    process.env.GIT_DIR = "/nonexistent/.git";
    process.env.SOME_SECRET = "parent-secret";
    try {
      const env = makeRunner().runner.environment(undefined);
      expect(env.GIT_DIR).toBeUndefined();
      expect(JSON.stringify(env)).not.toContain("parent-secret");
      expect(env.PATH).toBe(process.env.PATH);
      const allowed = new Set([
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_GLOBAL",
        "GIT_TERMINAL_PROMPT",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GCM_INTERACTIVE",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_CONFIG_COUNT",
      ]);
      for (const name of Object.keys(env)) {
        if (!/^GIT_CONFIG_(KEY|VALUE)_\d+$/.test(name)) expect(allowed.has(name), name).toBe(true);
      }
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe("GitRunner.run", () => {
  it("clones from the simulator with the environment's header alone (no token in argv)", async () => {
    const { runner, observer } = makeRunner();
    const dest = freshDir("clone");
    const url = `${sim.baseUrl}/acme/widgets.git`;
    await runner.run(["clone", "--", url, dest], { cwd: work, auth: { remoteBase: sim.baseUrl, token } });
    expect(await readFile(path.join(dest, "README.md"), "utf8")).toBe("hello\n");
    for (const event of observer.events) {
      expect(event.args.join(" ")).not.toContain(token);
    }
    const config = await readFile(path.join(dest, ".git", "config"), "utf8");
    expect(config).not.toContain(token);
    expect(config).not.toMatch(/extraheader/i);
  });

  it("the token is in no process's argv while git talks to the remote", async () => {
    const { runner } = makeRunner();
    const dest = freshDir("argv");
    sim.admin.addFault({
      match: { method: "POST", path: "/git-upload-pack$" },
      times: 1,
      action: { type: "hold" },
    });
    const encoded = basicHeader(token).replace("AUTHORIZATION: basic ", "");
    const running = runner.run(["clone", "--", `${sim.baseUrl}/acme/widgets.git`, dest], {
      cwd: work,
      auth: { remoteBase: sim.baseUrl, token },
    });
    running.catch(() => undefined);
    // The fetch request is held unanswered at the simulator: git is mid-conversation with the remote.
    await waitFor(
      () =>
        sim.admin
          .requests()
          .some(
            (request) =>
              request.method === "POST" && request.path.endsWith("/git-upload-pack") && request.status === 0,
          ),
      { message: "the upload-pack request reached the simulator" },
    );
    const gitProcesses = await waitFor(
      async () => {
        const pids = await liveProcesses(
          ({ cmdline }) => cmdline.includes(dest) || cmdline.includes("remote-http"),
        );
        return pids.length >= 2 ? pids : null;
      },
      { message: "git clone and its remote helper are running" },
    );
    expect(gitProcesses.length).toBeGreaterThanOrEqual(2);
    expect(
      await liveProcesses(({ cmdline }) => cmdline.includes(token) || cmdline.includes(encoded)),
    ).toEqual([]);
    expect(sim.admin.releaseHeld()).toBe(1);
    await running;
    expect(await readFile(path.join(dest, "README.md"), "utf8")).toBe("hello\n");
  });

  it("no prompts: a remote that wants credentials, given none, fails at once with a redacted GitError", async () => {
    const marker = "marker-user-4711";
    const { runner, observer } = makeRunner({ redact: (text) => text.replaceAll(marker, "[REDACTED]") });
    const dest = freshDir("noauth");
    const host = sim.baseUrl.replace("http://", "");
    const error = await caught(
      runner.run(["clone", "--", `http://${marker}@${host}/acme/widgets.git`, dest], { cwd: work }),
    );
    expect(error).toBeInstanceOf(GitError);
    const gitError = error as GitError;
    expect(gitError.command).toBe("clone");
    expect(gitError.exitCode).toBe(128);
    expect(gitError.timedOut).toBe(false);
    expect(gitError.message).toContain("terminal prompts disabled");
    expect(gitError.message).toContain("[REDACTED]");
    expect(gitError.message).not.toContain(marker);
    expect(gitError.output).not.toContain(marker);
    expect(observer.events.at(-1)).toMatchObject({ event: "finished", outcome: "failed" });
  }, 20_000);

  it("no prompts: without a user name either", async () => {
    const { runner } = makeRunner();
    const error = await caught(
      runner.run(["ls-remote", `${sim.baseUrl}/acme/widgets.git`], { cwd: work, timeoutMs: 15_000 }),
    );
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).timedOut).toBe(false);
    expect((error as GitError).message).toMatch(/terminal prompts disabled|Authentication failed|401/);
  }, 20_000);

  it("a revoked token fails fast too (401, no prompt)", async () => {
    const revoked = sim.admin.createToken({ repos: "*" });
    sim.admin.revokeToken(revoked);
    const { runner } = makeRunner({ redact: (text) => text.replaceAll(revoked, "[TOKEN]") });
    const error = await caught(
      runner.run(["ls-remote", `${sim.baseUrl}/acme/widgets.git`], {
        cwd: work,
        auth: { remoteBase: sim.baseUrl, token: revoked },
        timeoutMs: 15_000,
      }),
    );
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).timedOut).toBe(false);
    expect((error as GitError).message).not.toContain(revoked);
  }, 20_000);

  it("timeout: a stalled fetch → GitError timedOut, and no process of that run is left alive", async () => {
    const { runner, observer } = makeRunner();
    counter += 1;
    const repoName = `stalled-${counter}`;
    await sim.admin.createRepo({ owner: "acme", name: repoName, files: { "a.txt": "a\n" } });
    const url = `${sim.baseUrl}/acme/${repoName}.git`;
    const dest = freshDir("stalled");
    // Far longer than the run's timeout: a survivor would still be waiting when we look.
    sim.admin.addFault({
      match: { method: "POST", path: `/acme/${repoName}\\.git/git-upload-pack$` },
      times: 5,
      action: { type: "delay", ms: 120_000 },
    });

    const running = runner.run(["clone", "--", url, dest], {
      cwd: work,
      auth: { remoteBase: sim.baseUrl, token },
      timeoutMs: 3000,
    });
    running.catch(() => undefined);
    // While it hangs: git clone and git-remote-http are alive, in one process group.
    const during = await waitFor(
      async () => {
        const pids = await liveProcesses(({ cmdline }) => cmdline.includes(url));
        return pids.length >= 2 ? pids : null;
      },
      { message: "the clone's processes are running" },
    );
    const groups = new Set<number>();
    for (const pid of during) {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
      if (stat) groups.add(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]));
    }
    expect(groups.size).toBe(1);
    const [group] = [...groups];

    const error = await caught(running);
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).timedOut).toBe(true);
    expect((error as GitError).command).toBe("clone");
    expect((error as GitError).message).toContain("timed out");
    expect(observer.events.at(-1)).toMatchObject({ event: "finished", outcome: "timed_out" });

    expect(await liveProcesses(({ cmdline }) => cmdline.includes(url))).toEqual([]);
    expect(await liveProcesses(({ pgrp }) => pgrp === group)).toEqual([]);
  }, 30_000);

  it("defaultTimeoutMs applies when a run names none", async () => {
    const { runner } = makeRunner({ defaultTimeoutMs: 2000 });
    sim.admin.addFault({
      match: { method: "POST", path: "/acme/widgets\\.git/git-upload-pack$" },
      times: 1,
      action: { type: "delay", ms: 120_000 },
    });
    const error = await caught(
      runner.run(["clone", "--", `${sim.baseUrl}/acme/widgets.git`, freshDir("default-timeout")], {
        cwd: work,
        auth: { remoteBase: sim.baseUrl, token },
      }),
    );
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).timedOut).toBe(true);
  }, 30_000);

  it("a failing command: GitError with the exit code and redacted output", async () => {
    const secret = "sekrit-branch-name";
    const { runner } = makeRunner({ redact: (text) => text.replaceAll(secret, "[X]") });
    const dir = freshDir("failing");
    await mkdir(dir);
    await runner.run(["init", "-q"], { cwd: dir });
    const error = await caught(runner.run(["checkout", secret], { cwd: dir }));
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).command).toBe("checkout");
    expect((error as GitError).exitCode).toBe(1);
    expect((error as GitError).output).toContain("[X]");
    expect((error as GitError).message).not.toContain(secret);
  });

  it("a directory that does not exist: GitError (spawn failure), observed as failed", async () => {
    const { runner, observer } = makeRunner();
    const error = await caught(runner.run(["status"], { cwd: path.join(work, "does-not-exist") }));
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).exitCode).toBeNull();
    expect(observer.events.map((event) => [event.event, event.outcome])).toEqual([
      ["started", undefined],
      ["finished", "failed"],
    ]);
  });

  it("the observer sees started then finished for every command, with its outcome", async () => {
    const { runner, observer } = makeRunner();
    const dir = freshDir("observed");
    await mkdir(dir);
    await runner.run(["init", "-q"], { cwd: dir });
    await runner.run(["status", "--porcelain"], { cwd: dir });
    await caught(runner.run(["rev-parse", "--verify", "nope"], { cwd: dir }));
    expect(observer.events).toEqual([
      { event: "started", cwd: dir, args: ["init", "-q"] },
      { event: "finished", cwd: dir, args: ["init", "-q"], outcome: "ok" },
      { event: "started", cwd: dir, args: ["status", "--porcelain"] },
      { event: "finished", cwd: dir, args: ["status", "--porcelain"], outcome: "ok" },
      { event: "started", cwd: dir, args: ["rev-parse", "--verify", "nope"] },
      { event: "finished", cwd: dir, args: ["rev-parse", "--verify", "nope"], outcome: "failed" },
    ]);
  });

  it("ignores the host's global git config (control: a plain git reads the same files)", async () => {
    const hostHome = freshDir("host-home");
    await mkdir(hostHome);
    await writeFile(
      path.join(hostHome, ".gitconfig"),
      "[user]\n\tname = Home Person\n\temail = home@host.test\n",
    );
    const globalFile = path.join(hostHome, "global.gitconfig");
    await writeFile(globalFile, "[user]\n\tname = Global Person\n\temail = global@host.test\n");

    // Control: git itself does read these files when nothing stops it.
    const plain = (env: Record<string, string>): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = spawn("git", ["config", "--get", "user.name"], {
          cwd: hostHome,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CONFIG_NOSYSTEM: "1", ...env },
          stdio: ["ignore", "pipe", "ignore"],
        });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
        child.once("error", reject);
        child.once("close", () => resolve(out.trim()));
      });
    expect(await plain({ HOME: hostHome })).toBe("Home Person");
    expect(await plain({ HOME: hostHome, GIT_CONFIG_GLOBAL: globalFile })).toBe("Global Person");

    const saved = { HOME: process.env.HOME, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL };
    process.env.HOME = hostHome;
    process.env.GIT_CONFIG_GLOBAL = globalFile;
    try {
      const { runner } = makeRunner();
      const error = await caught(runner.run(["config", "--get", "user.name"], { cwd: hostHome }));
      expect(error).toBeInstanceOf(GitError);
      expect((error as GitError).exitCode).toBe(1);
      const { stdout } = await runner.run(["config", "--list", "--show-origin"], { cwd: hostHome });
      expect(stdout).not.toContain("Person");
      expect(stdout).not.toContain(hostHome);

      const dir = freshDir("identity");
      await mkdir(dir);
      await runner.run(["init", "-q"], { cwd: dir });
      await writeFile(path.join(dir, "f.txt"), "f\n");
      await runner.run(["add", "f.txt"], { cwd: dir });
      await runner.run(["commit", "-q", "--no-gpg-sign", "-m", "x"], { cwd: dir });
      const { stdout: who } = await runner.run(["log", "-1", "--format=%an|%ae|%cn|%ce"], { cwd: dir });
      expect(who.trim()).toBe(`${IDENTITY.name}|${IDENTITY.email}|${IDENTITY.name}|${IDENTITY.email}`);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
