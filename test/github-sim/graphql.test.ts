import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { graphql, GraphqlResponseError } from "@octokit/graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitClient } from "../support/github-sim/git-client.js";
import { callGraphql, callSim, type SimHttpAnswer } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";

/**
 * GraphQL at `/api/graphql` over real HTTP, against GitHub's real schema: the batched query
 * Shepherd's PR observer makes (25 aliased pull requests in many states), GitHub's rejections,
 * the point cost from GitHub's formula, the budget, authentication, faults, and unserved fields.
 */

const OWNER = "acme";
const REPO = "widgets";

let sim: GitHubSimulator;
let token: string;
let work: string;
let branchCount = 0;

interface GraphqlBody {
  data?: Record<string, unknown> | null;
  errors?: {
    type?: string;
    message: string;
    path?: (string | number)[];
    locations?: unknown[];
    extensions?: Record<string, unknown>;
  }[];
}

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 1000, graphqlLimit: 5000 });
  await sim.admin.createRepo({
    owner: OWNER,
    name: REPO,
    files: { "config.yaml": "a: 1\nb: 2\nc: 3\n", "README.md": "widgets\n" },
  });
  token = sim.admin.createToken({ repos: [`${OWNER}/${REPO}`] });
  work = await mkdtemp(path.join(os.tmpdir(), "sim-graphql-"));
});

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function gql(
  query: string,
  variables?: Record<string, unknown>,
  as: string | null = token,
): Promise<SimHttpAnswer> {
  return callGraphql(sim.baseUrl, as, query, variables);
}

function body(answer: SimHttpAnswer): GraphqlBody {
  return answer.json as GraphqlBody;
}

/** A branch with one commit of its own and a pull request from it; returns the PR number. */
async function openPull(
  options: { draft?: boolean; files?: Record<string, string> } = {},
): Promise<{ number: number; branch: string; head: string }> {
  branchCount += 1;
  const branch = `topic-${branchCount}`;
  const head = await sim.admin.pushFiles({
    owner: OWNER,
    repo: REPO,
    branch,
    files: options.files ?? { [`${branch}.txt`]: `${branch}\n` },
    message: `Change ${branch}\n`,
  });
  const opened = await callSim(sim.baseUrl, "POST", `/repos/${OWNER}/${REPO}/pulls`, {
    token,
    body: { title: `Change ${branch}`, head: branch, base: "main", draft: options.draft ?? false },
  });
  expect(opened.status).toBe(201);
  return { number: (opened.json as { number: number }).number, branch, head };
}

const PR_FACTS = `
fragment PrFacts on PullRequest {
  id number state isDraft merged mergedAt closed closedAt
  headRefName headRefOid baseRefName headRepository { nameWithOwner }
  author { login __typename }
  mergeable mergeStateStatus reviewDecision
  commits(last: 1) { nodes { commit { oid statusCheckRollup { state contexts(first: 20) {
    totalCount
    nodes {
      __typename
      ... on CheckRun { name status conclusion detailsUrl databaseId }
      ... on StatusContext { context state targetUrl description }
    }
  } } } } }
  reviews(last: 20) { nodes { state author { login } body submittedAt } }
  reviewThreads(last: 50) { nodes { id isResolved isOutdated path line
    comments(last: 10) { nodes { author { login __typename } body path line url createdAt } } } }
}`;

/** Shepherd's observer batch: one alias per pull request, each through `repository`. */
function batchQuery(numbers: readonly number[]): string {
  const aliases = numbers
    .map(
      (number, index) =>
        `pr${index}: repository(owner: "${OWNER}", name: "${REPO}") { pullRequest(number: ${number}) { ...PrFacts } }`,
    )
    .join("\n");
  return `query Observe { rateLimit { cost remaining nodeCount } viewer { login }\n${aliases}\n}\n${PR_FACTS}`;
}

interface PrFacts {
  number: number;
  state: string;
  isDraft: boolean;
  merged: boolean;
  mergedAt: string | null;
  closed: boolean;
  headRefName: string;
  headRefOid: string;
  headRepository: { nameWithOwner: string };
  author: { login: string; __typename: string };
  mergeable: string;
  mergeStateStatus: string;
  reviewDecision: string | null;
  commits: {
    nodes: {
      commit: {
        oid: string;
        statusCheckRollup: {
          state: string;
          contexts: { totalCount: number; nodes: Record<string, unknown>[] };
        } | null;
      };
    }[];
  };
  reviews: { nodes: { state: string; author: { login: string } }[] };
  reviewThreads: {
    nodes: {
      isResolved: boolean;
      isOutdated: boolean;
      path: string;
      line: number | null;
      comments: { nodes: { author: { login: string; __typename: string }; body: string; url: string }[] };
    }[];
  };
}

function factsOf(answer: SimHttpAnswer, count: number): PrFacts[] {
  const data = body(answer).data ?? {};
  return Array.from({ length: count }, (_, index) => {
    const entry = data[`pr${index}`] as { pullRequest: PrFacts } | null;
    if (!entry) throw new Error(`pr${index} missing: ${JSON.stringify(body(answer).errors)}`);
    return entry.pullRequest;
  });
}

describe("the observer's batched query", () => {
  it("answers 25 aliased pull requests in their many states with the right facts", async () => {
    const plain = await openPull();
    const merged = await openPull();
    const closed = await openPull();
    const draft = await openPull({ draft: true });
    const conflicting = await openPull({ files: { "config.yaml": "a: 1\nb: 20\nc: 3\n" } });
    const failing = await openPull();
    const pending = await openPull();
    const green = await openPull();
    const approved = await openPull();
    const changes = await openPull();
    const threads = await openPull({ files: { "notes.md": "one\ntwo\nthree\n" } });
    const fillers = [];
    for (let i = 0; i < 14; i++) fillers.push(await openPull());

    await sim.admin.mergePull({ owner: OWNER, repo: REPO, number: merged.number });
    sim.admin.closePull({ owner: OWNER, repo: REPO, number: closed.number });
    await sim.admin.pushFiles({
      owner: OWNER,
      repo: REPO,
      branch: "main",
      files: { "config.yaml": "a: 1\nb: 99\nc: 3\n" },
    });
    const run = sim.admin.setCheckRun({
      owner: OWNER,
      repo: REPO,
      sha: failing.head,
      name: "build",
      status: "completed",
      conclusion: "failure",
      detailsUrl: "https://ci.example.com/runs/42",
    });
    sim.admin.setCommitStatus({
      owner: OWNER,
      repo: REPO,
      sha: pending.head,
      context: "ci/lint",
      state: "pending",
      targetUrl: "https://ci.example.com/status/7",
      description: "queued",
    });
    sim.admin.setCheckRun({
      owner: OWNER,
      repo: REPO,
      sha: green.head,
      name: "build",
      status: "completed",
      conclusion: "success",
    });
    sim.admin.setCommitStatus({
      owner: OWNER,
      repo: REPO,
      sha: green.head,
      context: "ci/lint",
      state: "success",
    });
    sim.admin.addReview({
      owner: OWNER,
      repo: REPO,
      number: approved.number,
      user: "alice",
      state: "APPROVED",
    });
    sim.admin.addReview({
      owner: OWNER,
      repo: REPO,
      number: changes.number,
      user: "alice",
      state: "CHANGES_REQUESTED",
      body: "no",
    });
    sim.admin.addReview({ owner: OWNER, repo: REPO, number: changes.number, user: "bob", state: "APPROVED" });
    const botReview = sim.admin.addReview({
      owner: OWNER,
      repo: REPO,
      number: threads.number,
      user: "coderabbitai[bot]",
      state: "COMMENTED",
      comments: [{ path: "notes.md", line: 1, body: "Consider a heading." }],
    });
    const humanReview = sim.admin.addReview({
      owner: OWNER,
      repo: REPO,
      number: threads.number,
      user: "alice",
      state: "COMMENTED",
      comments: [
        { path: "notes.md", line: 2, body: "Why two?" },
        { path: "notes.md", line: 3, body: "Typo here." },
      ],
    });
    sim.admin.replyToThread({
      owner: OWNER,
      repo: REPO,
      number: threads.number,
      threadId: humanReview.threads[0]?.id ?? 0,
      user: "coderabbitai[bot]",
      body: "Because of the spec.",
    });
    sim.admin.resolveThread({
      owner: OWNER,
      repo: REPO,
      number: threads.number,
      threadId: humanReview.threads[1]?.nodeId ?? "",
    });

    const all = [
      plain,
      merged,
      closed,
      draft,
      conflicting,
      failing,
      pending,
      green,
      approved,
      changes,
      threads,
      ...fillers,
    ];
    expect(all).toHaveLength(25);
    const query = batchQuery(all.map((pull) => pull.number));

    // First reading: GitHub has not computed mergeability yet for any open pull request.
    const first = await gql(query);
    expect(first.status).toBe(200);
    expect(body(first).errors).toBeUndefined();
    const unknown = factsOf(first, 25);
    for (const [index, facts] of unknown.entries()) {
      expect(facts.mergeable, `pr${index}`).toBe("UNKNOWN");
      expect(facts.mergeStateStatus, `pr${index}`).toBe("UNKNOWN");
    }
    expect(body(first).data?.viewer).toEqual({ login: "shepherd-bot" });

    const second = await gql(query);
    const facts = factsOf(second, 25);
    const byNumber = new Map(facts.map((pull) => [pull.number, pull]));
    const of = (pull: { number: number }): PrFacts => {
      const found = byNumber.get(pull.number);
      if (!found) throw new Error(`#${pull.number} missing`);
      return found;
    };

    expect(of(plain)).toMatchObject({
      state: "OPEN",
      isDraft: false,
      merged: false,
      closed: false,
      headRefName: plain.branch,
      headRefOid: plain.head,
      headRepository: { nameWithOwner: `${OWNER}/${REPO}` },
      author: { login: "shepherd-bot", __typename: "User" },
      mergeable: "MERGEABLE",
      mergeStateStatus: "CLEAN",
      reviewDecision: "REVIEW_REQUIRED",
      reviews: { nodes: [] },
      reviewThreads: { nodes: [] },
    });
    expect(of(plain).commits.nodes).toEqual([{ commit: { oid: plain.head, statusCheckRollup: null } }]);
    expect(of(merged)).toMatchObject({ state: "MERGED", merged: true, closed: true, mergeable: "UNKNOWN" });
    expect(of(merged).mergedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(of(closed)).toMatchObject({ state: "CLOSED", merged: false, closed: true, mergedAt: null });
    expect(of(draft)).toMatchObject({
      state: "OPEN",
      isDraft: true,
      mergeable: "MERGEABLE",
      mergeStateStatus: "DRAFT",
    });
    expect(of(conflicting)).toMatchObject({ mergeable: "CONFLICTING", mergeStateStatus: "DIRTY" });

    expect(of(failing).mergeStateStatus).toBe("UNSTABLE");
    expect(of(failing).commits.nodes[0]?.commit.statusCheckRollup).toEqual({
      state: "FAILURE",
      contexts: {
        totalCount: 1,
        nodes: [
          {
            __typename: "CheckRun",
            name: "build",
            status: "COMPLETED",
            conclusion: "FAILURE",
            detailsUrl: "https://ci.example.com/runs/42",
            databaseId: run.checkRunId,
          },
        ],
      },
    });
    expect(of(pending).commits.nodes[0]?.commit.statusCheckRollup).toEqual({
      state: "PENDING",
      contexts: {
        totalCount: 1,
        nodes: [
          {
            __typename: "StatusContext",
            context: "ci/lint",
            state: "PENDING",
            targetUrl: "https://ci.example.com/status/7",
            description: "queued",
          },
        ],
      },
    });
    const greenRollup = of(green).commits.nodes[0]?.commit.statusCheckRollup;
    expect(greenRollup?.state).toBe("SUCCESS");
    expect(greenRollup?.contexts.nodes.map((node) => node.__typename)).toEqual(["CheckRun", "StatusContext"]);

    expect(of(approved).reviewDecision).toBe("APPROVED");
    expect(of(changes).reviewDecision).toBe("CHANGES_REQUESTED");
    expect(of(changes).reviews.nodes.map((review) => [review.author.login, review.state])).toEqual([
      ["alice", "CHANGES_REQUESTED"],
      ["bob", "APPROVED"],
    ]);

    const threadNodes = of(threads).reviewThreads.nodes;
    expect(
      threadNodes.map((thread) => [thread.path, thread.line, thread.isResolved, thread.isOutdated]),
    ).toEqual([
      ["notes.md", 1, false, false],
      ["notes.md", 2, false, false],
      ["notes.md", 3, true, false],
    ]);
    // GraphQL names a bot without its REST `[bot]` suffix, and types it Bot.
    expect(threadNodes[0]?.comments.nodes.map((comment) => [comment.author, comment.body])).toEqual([
      [{ login: "coderabbitai", __typename: "Bot" }, "Consider a heading."],
    ]);
    expect(threadNodes[1]?.comments.nodes.map((comment) => [comment.author, comment.body])).toEqual([
      [{ login: "alice", __typename: "User" }, "Why two?"],
      [{ login: "coderabbitai", __typename: "Bot" }, "Because of the spec."],
    ]);
    expect(threadNodes[0]?.comments.nodes[0]?.url).toBe(
      `${sim.baseUrl}/${OWNER}/${REPO}/pull/${threads.number}#discussion_r${botReview.threads[0]?.commentId}`,
    );
    for (const filler of fillers) expect(of(filler)).toMatchObject({ state: "OPEN", mergeable: "MERGEABLE" });
  });

  it("reports UNKNOWN right after the base moves (a real git push), then MERGEABLE, like REST's null", async () => {
    const pull = await openPull();
    const query = `query($n: Int!) { repository(owner: "${OWNER}", name: "${REPO}") {
      pullRequest(number: $n) { mergeable mergeStateStatus baseRefOid } } }`;
    const read = async (): Promise<{ mergeable: string; mergeStateStatus: string; baseRefOid: string }> => {
      const answer = await gql(query, { n: pull.number });
      return (
        body(answer).data?.repository as {
          pullRequest: { mergeable: string; mergeStateStatus: string; baseRefOid: string };
        }
      ).pullRequest;
    };
    expect(await read()).toMatchObject({ mergeable: "UNKNOWN", mergeStateStatus: "UNKNOWN" });
    expect(await read()).toMatchObject({ mergeable: "MERGEABLE", mergeStateStatus: "CLEAN" });

    const clone = path.join(work, "base-push");
    const options = { cwd: work, home: work, token };
    await gitClient(["clone", "--quiet", `${sim.baseUrl}/${OWNER}/${REPO}.git`, clone], options);
    await writeFile(path.join(clone, "unrelated.txt"), "moved\n");
    await gitClient(["add", "-A"], { ...options, cwd: clone });
    await gitClient(["commit", "-q", "-m", "Move the base"], { ...options, cwd: clone });
    await gitClient(["push", "-q", "origin", "main"], { ...options, cwd: clone });
    const movedBase = await sim.admin.branchHead(OWNER, REPO, "main");

    expect(await read()).toEqual({
      mergeable: "UNKNOWN",
      mergeStateStatus: "UNKNOWN",
      baseRefOid: movedBase,
    });
    // REST shares the computation: the GraphQL reading above consumed the "unknown".
    const rest = await callSim(sim.baseUrl, "GET", `/repos/${OWNER}/${REPO}/pulls/${pull.number}`, { token });
    expect(rest.json).toMatchObject({ mergeable: true, mergeable_state: "clean" });
    expect(await read()).toMatchObject({ mergeable: "MERGEABLE", mergeStateStatus: "CLEAN" });
  });

  it("pages pullRequests as a real connection: filters, order, cursors, totalCount", async () => {
    const query = `query($after: String) { repository(owner: "${OWNER}", name: "${REPO}") {
      pullRequests(states: [OPEN], first: 3, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { number state } } } } }`;
    const open = sim.admin.pulls(OWNER, REPO).filter((pull) => pull.state === "open");
    const expected = open.map((pull) => pull.number).sort((a, b) => b - a);
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page++) {
      const answer = await gql(query, { after });
      const connection = (
        body(answer).data?.repository as {
          pullRequests: {
            totalCount: number;
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
            edges: { cursor: string; node: { number: number; state: string } }[];
          };
        }
      ).pullRequests;
      expect(connection.totalCount).toBe(open.length);
      expect(connection.edges.every((edge) => edge.node.state === "OPEN")).toBe(true);
      seen.push(...connection.edges.map((edge) => edge.node.number));
      expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);

    const byHead = await gql(`{ repository(owner: "${OWNER}", name: "${REPO}") {
      pullRequests(headRefName: "topic-1", first: 5) { nodes { number headRefName } } } }`);
    expect(body(byHead).data).toEqual({
      repository: { pullRequests: { nodes: [{ number: 1, headRefName: "topic-1" }] } },
    });
  });

  it("resolves node ids with nodes(ids), one NOT_FOUND per unknown id", async () => {
    const pulls = sim.admin.pulls(OWNER, REPO).slice(0, 2);
    const answer = await gql(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on PullRequest { id number } } }`,
      {
        ids: [pulls[0]?.nodeId, "PR_kwDOnope", pulls[1]?.nodeId],
      },
    );
    expect(answer.status).toBe(200);
    expect(body(answer).data).toEqual({
      nodes: [
        { __typename: "PullRequest", id: pulls[0]?.nodeId, number: pulls[0]?.number },
        null,
        { __typename: "PullRequest", id: pulls[1]?.nodeId, number: pulls[1]?.number },
      ],
    });
    expect(body(answer).errors).toEqual([
      expect.objectContaining({
        type: "NOT_FOUND",
        path: ["nodes", 1],
        message: "Could not resolve to a node with the global id of 'PR_kwDOnope'",
      }),
    ]);
    const single = await gql(`query($id: ID!) { node(id: $id) { ... on PullRequest { title } } }`, {
      id: pulls[0]?.nodeId,
    });
    expect(body(single).data).toEqual({ node: { title: pulls[0]?.title } });
  });
});

describe("what GitHub rejects is rejected, in GitHub's words", () => {
  it("an unknown field: HTTP 200, undefinedField, nothing charged", async () => {
    const before = sim.admin.rateLimit(token).graphql.used;
    const answer = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { pullRequest(number: 1) { mergable } } }`,
    );
    expect(answer.status).toBe(200);
    expect(body(answer)).toEqual({
      errors: [
        {
          path: ["query", "repository", "pullRequest", "mergable"],
          extensions: { code: "undefinedField", typeName: "PullRequest", fieldName: "mergable" },
          locations: [{ line: 1, column: 73 }],
          message: "Field 'mergable' doesn't exist on type 'PullRequest'",
        },
      ],
    });
    expect(sim.admin.rateLimit(token).graphql.used).toBe(before);
  });

  it("wrong and missing arguments", async () => {
    const answer = await gql(`query Q { repository(owner: "${OWNER}", name: "${REPO}") {
      a: pullRequest(numbr: 1) { id } b: pullRequest(number: "one") { id } } }`);
    const errors = body(answer).errors ?? [];
    // In document order: `a` is left (missing argument) before `b` is entered.
    expect(errors.map((error) => error.message)).toEqual([
      "Field 'a' doesn't accept argument 'numbr'",
      "Field 'pullRequest' is missing required arguments: number",
      "Argument 'number' on Field 'b' has an invalid value (\"one\"). Expected type 'Int!'.",
    ]);
    expect(errors[1]?.extensions).toEqual({
      code: "missingRequiredArguments",
      className: "Field",
      name: "pullRequest",
      arguments: "number",
    });
    expect(errors[0]?.path).toEqual(["query Q", "repository", "a", "numbr"]);
  });

  it("a connection without first or last: MISSING_PAGINATION_BOUNDARIES", async () => {
    const answer = await gql(`{ repository(owner: "${OWNER}", name: "${REPO}") {
      pullRequest(number: 1) { reviews { nodes { state } } } } }`);
    expect(answer.status).toBe(200);
    expect(body(answer)).toEqual({
      errors: [
        {
          type: "MISSING_PAGINATION_BOUNDARIES",
          path: ["repository", "pullRequest", "reviews"],
          locations: [{ line: 2, column: 32 }],
          message:
            "You must provide a `first` or `last` value to properly paginate the `reviews` connection.",
        },
      ],
    });
    // Only counting needs no page size, as on GitHub.
    const count = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { pullRequests { totalCount } } }`,
    );
    expect(body(count).errors).toBeUndefined();
  });

  it("first: 101 (also through a variable) or 0: outside 1..100", async () => {
    const literal = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { pullRequests(first: 101) { nodes { id } } } }`,
    );
    expect(body(literal).errors).toEqual([
      expect.objectContaining({
        type: "EXCESSIVE_PAGINATION",
        path: ["repository", "pullRequests"],
        message:
          "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records.",
      }),
    ]);
    const variable = await gql(
      `query($n: Int) { repository(owner: "${OWNER}", name: "${REPO}") { pullRequests(last: $n) { nodes { id } } } }`,
      { n: 250 },
    );
    expect(body(variable).errors?.[0]?.message).toBe(
      "Requesting 250 records on the `pullRequests` connection exceeds the `last` limit of 100 records.",
    );
    const zero = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { pullRequests(first: 0) { nodes { id } } } }`,
    );
    expect(body(zero).errors?.[0]?.message).toBe(
      "`first` on the `pullRequests` connection cannot be less than one.",
    );
  });

  it("more than 500,000 possible nodes: MAX_NODE_LIMIT_EXCEEDED", async () => {
    const answer =
      await gql(`{ repository(owner: "${OWNER}", name: "${REPO}") { pullRequests(first: 100) { nodes {
      reviewThreads(first: 100) { nodes { comments(first: 100) { nodes { body } } } } } } } }`);
    // 100 + 100·100 + 100·100·100 = 1,010,100
    expect(body(answer)).toEqual({
      errors: [
        {
          type: "MAX_NODE_LIMIT_EXCEEDED",
          message:
            "By the time this query traverses to the comments connection, it is requesting up to 1,010,100 " +
            "possible nodes which exceeds the maximum limit of 500,000.",
        },
      ],
    });
  });

  it("a syntax error", async () => {
    const answer = await gql("{ viewer { login ");
    expect(answer.status).toBe(200);
    expect(body(answer).errors?.[0]).toMatchObject({ locations: [{ line: 1, column: 18 }] });
    expect(body(answer).data).toBeUndefined();
  });
});

describe("cost and budget", () => {
  const light = (alias: string, number: number): string =>
    `${alias}: repository(owner: "${OWNER}", name: "${REPO}") { pullRequest(number: ${number}) {
      commits(last: 1) { nodes { commit { statusCheckRollup { state contexts(first: 20) { nodes { __typename } } } } } }
      reviews(last: 20) { nodes { state } } } }`;
  const withThreads = (alias: string, number: number): string =>
    `${alias}: repository(owner: "${OWNER}", name: "${REPO}") { pullRequest(number: ${number}) {
      commits(last: 1) { nodes { commit { oid } } }
      reviewThreads(last: 50) { nodes { comments(last: 10) { nodes { body } } } } } }`;
  const batch = (part: (alias: string, number: number) => string, count: number): string =>
    `{ rateLimit { cost nodeCount } ${Array.from({ length: count }, (_, i) => part(`pr${i}`, (i % 25) + 1)).join("\n")} }`;

  async function costOf(query: string): Promise<{ cost: number; nodeCount: number; charged: number }> {
    const before = sim.admin.rateLimit(token).graphql.used;
    const answer = await gql(query);
    expect(body(answer).errors).toBeUndefined();
    const rate = (body(answer).data?.rateLimit ?? {}) as { cost: number; nodeCount: number };
    expect(Number(answer.headers.get("x-ratelimit-used"))).toBe(sim.admin.rateLimit(token).graphql.used);
    return { ...rate, charged: sim.admin.rateLimit(token).graphql.used - before };
  }

  it("follows GitHub's formula for 1, 25 and 100 pull requests", async () => {
    // Per PR: commits (1 request) + contexts (1 × commits' 1) + reviews (1) = 3 requests.
    // 1 PR: 3/100 → 0, at least 1.  25 PRs: 75/100 → 1.  100 PRs: 300/100 → 3.
    // Nodes per PR: commits 1 + contexts 1·20 + reviews 20 = 41.
    expect(await costOf(batch(light, 1))).toEqual({ cost: 1, nodeCount: 41, charged: 1 });
    expect(await costOf(batch(light, 25))).toEqual({ cost: 1, nodeCount: 25 * 41, charged: 1 });
    expect(await costOf(batch(light, 100))).toEqual({ cost: 3, nodeCount: 100 * 41, charged: 3 });
    // With threads: commits 1 + reviewThreads 1 + comments 50 (one per thread) = 52 requests per PR.
    // 1 PR: 0.52 → 1.  25 PRs: 1300/100 → 13.  100 PRs: 5200/100 → 52.
    expect((await costOf(batch(withThreads, 1))).cost).toBe(1);
    expect((await costOf(batch(withThreads, 25))).cost).toBe(13);
    expect((await costOf(batch(withThreads, 100))).cost).toBe(52);
    // One connection of 100 PRs: pullRequests 1 + commits 100 + contexts 100·1 + reviews 100 = 301 → 3.
    const listed =
      await costOf(`{ rateLimit { cost nodeCount } repository(owner: "${OWNER}", name: "${REPO}") {
      pullRequests(first: 100) { nodes { commits(last: 1) { nodes { commit { statusCheckRollup {
        contexts(first: 10) { nodes { __typename } } } } } } reviews(first: 10) { nodes { state } } } } } }`);
    expect(listed).toEqual({ cost: 3, nodeCount: 100 + 100 + 1000 + 1000, charged: 3 });
    // A dry run reports the cost without charging it.
    const dry = await costOf(batch(light, 100).replace("rateLimit {", "rateLimit(dryRun: true) {"));
    expect(dry).toEqual({ cost: 3, nodeCount: 100 * 41, charged: 0 });
  });

  it("sends GraphQL rate-limit headers, and rateLimit reports the budget after this query", async () => {
    const coreBefore = sim.admin.rateLimit(token).used;
    const answer = await gql("{ rateLimit { limit remaining used resetAt } }");
    const rate = body(answer).data?.rateLimit as {
      limit: number;
      remaining: number;
      used: number;
      resetAt: string;
    };
    expect(answer.headers.get("x-ratelimit-resource")).toBe("graphql");
    expect(Number(answer.headers.get("x-ratelimit-limit"))).toBe(5000);
    expect(Number(answer.headers.get("x-ratelimit-remaining"))).toBe(rate.remaining);
    expect(rate.limit - rate.used).toBe(rate.remaining);
    expect(Date.parse(rate.resetAt) / 1000).toBe(Number(answer.headers.get("x-ratelimit-reset")));
    // REST's own budget is untouched by GraphQL.
    expect(sim.admin.rateLimit(token).used).toBe(coreBefore);
  });

  it("an exhausted budget answers RATE_LIMITED with HTTP 200 and remaining 0", async () => {
    const spender = sim.admin.createToken({ repos: [`${OWNER}/${REPO}`] });
    sim.admin.setRemaining(spender, "graphql", 2);
    const expensive = batch(light, 100);
    const tooDear = await gql(expensive, undefined, spender);
    expect(tooDear.status).toBe(200);
    expect(body(tooDear).errors?.[0]?.type).toBe("RATE_LIMITED");
    expect(sim.admin.rateLimit(spender).graphql.remaining).toBe(2);

    const cheap = await gql("{ viewer { login } }", undefined, spender);
    expect(body(cheap).data).toEqual({ viewer: { login: "shepherd-bot" } });
    sim.admin.setRemaining(spender, "graphql", 0);
    const refused = await gql("{ viewer { login } }", undefined, spender);
    expect(refused.status).toBe(200);
    expect(refused.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(refused.headers.get("x-ratelimit-resource")).toBe("graphql");
    expect(body(refused).data).toBeUndefined();
    expect(body(refused).errors).toHaveLength(1);
    expect(body(refused).errors?.[0]?.type).toBe("RATE_LIMITED");
    expect(body(refused).errors?.[0]?.message).toMatch(/^API rate limit already exceeded for user ID \d+\.$/);
    expect(sim.admin.requests().at(-1)).toMatchObject({ path: "/api/graphql", rateLimited: true });
  });
});

describe("Octokit's GraphQL client", () => {
  it("reaches /api/graphql from the REST base URL, as against GitHub Enterprise Server", async () => {
    const client = graphql.defaults({
      baseUrl: `${sim.baseUrl}/api/v3`,
      headers: { authorization: `token ${token}` },
    });
    const answer = await client<{ repository: { nameWithOwner: string; pullRequest: { number: number } } }>(
      `query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) {
        nameWithOwner pullRequest(number: 1) { number } } }`,
      { owner: OWNER, name: REPO },
    );
    expect(answer).toEqual({ repository: { nameWithOwner: `${OWNER}/${REPO}`, pullRequest: { number: 1 } } });
    // A query error is a 200 with `errors`: Octokit turns it into a GraphqlResponseError.
    const failed = await client(`{ repository(owner: "${OWNER}", name: "nope") { id } }`).catch(
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(GraphqlResponseError);
    expect((failed as GraphqlResponseError<unknown>).errors?.[0]).toMatchObject({ type: "NOT_FOUND" });
  });
});

describe("access, faults and unserved fields", () => {
  it("401 without a token or with a bad or revoked one", async () => {
    const none = await gql("{ viewer { login } }", undefined, null);
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ message: "This endpoint requires you to be authenticated." });
    const bad = await gql("{ viewer { login } }", undefined, "ghp_notatoken");
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({ message: "Bad credentials" });
    const revoked = sim.admin.createToken({ repos: "*" });
    sim.admin.revokeToken(revoked);
    expect((await gql("{ viewer { login } }", undefined, revoked)).status).toBe(401);
  });

  it("a repository outside the token does not exist; a missing pull_requests permission is FORBIDDEN", async () => {
    const elsewhere = sim.admin.createToken({ repos: ["acme/other"] });
    const hidden = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { id } }`,
      undefined,
      elsewhere,
    );
    expect(body(hidden)).toEqual({
      data: { repository: null },
      errors: [
        {
          type: "NOT_FOUND",
          path: ["repository"],
          locations: [{ line: 1, column: 3 }],
          message: `Could not resolve to a Repository with the name '${OWNER}/${REPO}'.`,
        },
      ],
    });
    const noPulls = sim.admin.createToken({
      repos: [`${OWNER}/${REPO}`],
      permissions: { pull_requests: null } as never,
    });
    const forbidden = await gql(
      `{ repository(owner: "${OWNER}", name: "${REPO}") { name pullRequest(number: 1) { id } } }`,
      undefined,
      noPulls,
    );
    expect(body(forbidden).data).toEqual({ repository: { name: REPO, pullRequest: null } });
    expect(body(forbidden).errors?.[0]).toMatchObject({
      type: "FORBIDDEN",
      path: ["repository", "pullRequest"],
    });
  });

  it("faults apply to /api/graphql", async () => {
    sim.admin.addFault({
      match: { path: "^/api/graphql$" },
      times: 1,
      action: { type: "status", status: 502 },
    });
    expect((await gql("{ viewer { login } }")).status).toBe(502);
    sim.admin.addFault({
      match: { path: "^/api/graphql$" },
      times: 1,
      action: { type: "rate-limit", retryAfter: 9 },
    });
    const limited = await gql("{ viewer { login } }");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("9");
    expect(limited.headers.get("x-ratelimit-resource")).toBe("graphql");
    sim.admin.addFault({ match: { path: "^/api/graphql$" }, times: 1, action: { type: "drop" } });
    await expect(gql("{ viewer { login } }")).rejects.toThrow();
    expect((await gql("{ viewer { login } }")).status).toBe(200);
  });

  it("a field the simulator does not serve is an error naming it, never a silent null", async () => {
    const answer = await gql(`{ repository(owner: "${OWNER}", name: "${REPO}") {
      name homepageUrl pullRequest(number: 1) { title viewerCanUpdate } } }`);
    expect(answer.status).toBe(200);
    expect(body(answer).errors?.map((error) => [error.message, error.path])).toEqual([
      ["Repository.homepageUrl is not implemented by the GitHub simulator", ["repository", "homepageUrl"]],
      [
        "PullRequest.viewerCanUpdate is not implemented by the GitHub simulator",
        ["repository", "pullRequest", "viewerCanUpdate"],
      ],
    ]);
    // viewerCanUpdate is non-null: as GraphQL requires, its pull request becomes null.
    expect(body(answer).data).toEqual({ repository: { name: REPO, homepageUrl: null, pullRequest: null } });
  });
});
