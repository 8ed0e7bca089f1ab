import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callAdmin, callSim } from "../support/github-sim/sim-http-client.js";
import { childEnv, cleanupAll, freePort, ManagedProcess, REPO_ROOT } from "../support/processes.js";

/** `npm run sim` as a developer runs it: starts, prints how to reach it, answers, stops on Ctrl-C. */

afterEach(async () => {
  await cleanupAll();
});

describe("npm run sim", () => {
  it("starts on the given port, prints its base URL and admin token, answers, and stops on SIGINT", async () => {
    const port = await freePort();
    const proc = new ManagedProcess(
      "npm run sim",
      "npm",
      ["run", "--silent", "sim", "--", "--port", String(port)],
      {
        cwd: REPO_ROOT,
        env: childEnv(),
      },
    );
    const url = (await proc.waitForOutput(/listening on (http:\/\/\S+)/, { stream: "stdout" }))[1] ?? "";
    const adminToken = (await proc.waitForOutput(/admin token: (\S+)/, { stream: "stdout" }))[1] ?? "";
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(proc.stdout).toMatch(/example: curl .*\/_sim\/createRepo/);

    const token = (await callAdmin(url, adminToken, "createToken", { repos: "*" })) as string;
    const answer = await callSim(url, "GET", "/rate_limit", { token });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ resources: { core: { limit: 5000, remaining: 5000 } } });

    // Ctrl-C in a terminal signals the whole process group (npm and the simulator under it).
    proc.signal("SIGINT", { group: true });
    const exit = await proc.waitForExit(15_000);
    expect(exit, proc.describe()).not.toBeNull();
    await proc.drain();
    expect(proc.stdout).toContain("stopped");
    await expect(fetch(`${url}/api/v3/rate_limit`)).rejects.toThrow();
  });

  it("refuses a bad port", async () => {
    const proc = new ManagedProcess(
      "sim bad port",
      process.execPath,
      ["--import", "tsx", path.join("test", "support", "github-sim", "main.ts"), "--port", "nope"],
      { cwd: REPO_ROOT, env: childEnv() },
    );
    const exit = await proc.waitForExit(15_000);
    expect(exit?.code).toBe(2);
    expect(proc.stderr).toContain("invalid --port");
  });
});
