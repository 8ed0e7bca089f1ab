import { afterEach, describe, expect, it } from "vitest";
import { callSim } from "../support/github-sim/sim-http-client.js";
import {
  startGitHubSimulator,
  type GitHubSimulator,
  type SimulatorOptions,
} from "../support/github-sim/simulator.js";

/** GitHub's rate-limit model: primary budget and headers, free 304s and /rate_limit, secondary limit. */

let sim: GitHubSimulator | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function setup(options: SimulatorOptions = {}): Promise<{ sim: GitHubSimulator; token: string }> {
  sim = await startGitHubSimulator(options);
  await sim.admin.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "x\n" } });
  await sim.admin.pushFiles({ owner: "acme", repo: "widgets", branch: "topic", files: { "t.txt": "t\n" } });
  return { sim, token: sim.admin.createToken({ repos: ["acme/widgets"] }) };
}

function rate(headers: Headers): {
  limit: number;
  remaining: number;
  used: number;
  reset: number;
  resource: string;
} {
  return {
    limit: Number(headers.get("x-ratelimit-limit")),
    remaining: Number(headers.get("x-ratelimit-remaining")),
    used: Number(headers.get("x-ratelimit-used")),
    reset: Number(headers.get("x-ratelimit-reset")),
    resource: headers.get("x-ratelimit-resource") ?? "",
  };
}

describe("primary rate limit", () => {
  it("charges one point per request and says so in the headers of every answer", async () => {
    const { sim, token } = await setup({ restLimit: 1000 });
    const first = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets", { token });
    const second = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls", { token });
    const missing = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls/77", { token });
    expect(missing.status).toBe(404);
    expect([first, second, missing].map((answer) => rate(answer.headers).remaining)).toEqual([999, 998, 997]);
    expect(rate(missing.headers)).toMatchObject({ limit: 1000, used: 3, resource: "core" });
    const now = Date.now() / 1000;
    expect(rate(first.headers).reset).toBeGreaterThan(now);
    expect(rate(first.headers).reset).toBeLessThanOrEqual(Math.ceil(now) + 3600);
    expect(rate(second.headers).reset).toBe(rate(first.headers).reset);
    for (const answer of [first, second, missing]) {
      expect(answer.headers.get("x-github-request-id")).toMatch(/^[0-9A-F]{4}:[0-9A-F]{4}:/);
      expect(answer.headers.get("x-github-api-version-selected")).toBe("2022-11-28");
    }
    expect(sim.admin.rateLimit(token)).toMatchObject({ limit: 1000, remaining: 997, used: 3 });
  });

  it("does not charge GET /rate_limit, whose body agrees with the headers", async () => {
    const { sim, token } = await setup();
    await callSim(sim.baseUrl, "GET", "/user", { token });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await callSim(sim.baseUrl, "GET", "/rate_limit", { token }));
    for (const answer of answers) {
      expect(rate(answer.headers).remaining).toBe(4999);
      expect(answer.json).toMatchObject({ rate: { remaining: 4999, used: 1, limit: 5000 } });
    }
  });

  it("answers a matching If-None-Match with a bodiless 304 that costs nothing, until the resource changes", async () => {
    const { sim, token } = await setup();
    const first = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls?state=open", { token });
    const etag = first.headers.get("etag") ?? "";
    expect(etag).toMatch(/^W\/"[0-9a-f]+"$/);
    const before = sim.admin.rateLimit(token).remaining;
    for (let i = 0; i < 3; i++) {
      const cached = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls?state=open", {
        token,
        headers: { "if-none-match": etag },
      });
      expect(cached.status).toBe(304);
      expect(cached.text).toBe("");
      expect(cached.headers.get("etag")).toBe(etag);
      expect(rate(cached.headers).remaining).toBe(before);
    }
    expect(sim.admin.rateLimit(token).remaining).toBe(before);

    const opened = await callSim(sim.baseUrl, "POST", "/repos/acme/widgets/pulls", {
      token,
      body: { title: "t", head: "topic", base: "main" },
    });
    expect(opened.status).toBe(201);
    const changed = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls?state=open", {
      token,
      headers: { "if-none-match": etag },
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(sim.admin.rateLimit(token).remaining).toBe(before - 2);
  });

  it("refuses with GitHub's 403 once the budget is spent, while /rate_limit still answers", async () => {
    const { sim, token } = await setup({ restLimit: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await callSim(sim.baseUrl, "GET", "/user", { token })).status);
    expect(statuses).toEqual([200, 200, 200, 403]);
    const refused = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets", { token });
    expect(refused.status).toBe(403);
    expect(rate(refused.headers)).toMatchObject({ remaining: 0, used: 3, limit: 3 });
    expect((refused.json as { message: string }).message).toMatch(/^API rate limit exceeded for user ID \d+/);
    expect(sim.admin.requests().at(-1)).toMatchObject({ status: 403, rateLimited: true });
    const overview = await callSim(sim.baseUrl, "GET", "/rate_limit", { token });
    expect(overview.status).toBe(200);
    expect(overview.json).toMatchObject({ resources: { core: { remaining: 0 } } });

    const other = sim.admin.createToken({ repos: "*" });
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: other })).status).toBe(200);
  });

  it("lets a test set the remaining budget of either resource", async () => {
    const { sim, token } = await setup();
    sim.admin.setRemaining(token, "core", 1);
    sim.admin.setRemaining(token, "graphql", 42);
    expect(sim.admin.rateLimit(token)).toMatchObject({
      remaining: 1,
      used: 4999,
      graphql: { remaining: 42 },
    });
    expect((await callSim(sim.baseUrl, "GET", "/user", { token })).status).toBe(200);
    expect((await callSim(sim.baseUrl, "GET", "/user", { token })).status).toBe(403);
    const overview = await callSim(sim.baseUrl, "GET", "/rate_limit", { token });
    expect(overview.json).toMatchObject({ resources: { graphql: { remaining: 42, limit: 5000 } } });
  });
});

describe("secondary rate limit", () => {
  it("refuses content creation beyond the per-minute allowance with 403, retry-after and the documented message", async () => {
    const { sim, token } = await setup({ contentCreationPerMinute: 3 });
    const opened = await callSim(sim.baseUrl, "POST", "/repos/acme/widgets/pulls", {
      token,
      body: { title: "t", head: "topic", base: "main" },
    });
    const number = (opened.json as { number: number }).number;
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const answer = await callSim(sim.baseUrl, "POST", `/repos/acme/widgets/issues/${number}/comments`, {
        token,
        body: { body: `comment ${i}` },
      });
      statuses.push(answer.status);
      if (answer.status === 403) {
        expect(answer.headers.get("retry-after")).toBe("60");
        expect((answer.json as { message: string }).message).toMatch(
          /You have exceeded a secondary rate limit/,
        );
      }
    }
    expect(statuses).toEqual([201, 201, 403]);
    expect(sim.admin.issueComments("acme", "widgets", number)).toHaveLength(2);
    expect(sim.admin.requests().filter((request) => request.rateLimited)).toHaveLength(1);
    // Reads are not content creation, and another token has its own allowance.
    expect((await callSim(sim.baseUrl, "GET", `/repos/acme/widgets/pulls/${number}`, { token })).status).toBe(
      200,
    );
    const other = sim.admin.createToken({ repos: "*" });
    const fromOther = await callSim(sim.baseUrl, "POST", `/repos/acme/widgets/issues/${number}/comments`, {
      token: other,
      body: { body: "other" },
    });
    expect(fromOther.status).toBe(201);
  });
});
