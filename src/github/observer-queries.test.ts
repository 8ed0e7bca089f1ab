import { parse, validate, validateExecutionArgs, type DocumentNode } from "graphql";
import { describe, expect, it } from "vitest";
import { analyzeQuery } from "../../test/support/github-sim/graphql-cost.js";
import { githubSchema } from "../../test/support/github-sim/graphql-schema.js";
import {
  buildPullsQuery,
  DEFAULT_THREADS_PAGE_SIZE,
  MAX_PULLS_PER_QUERY,
  type PullQueryTarget,
  type PullsQuery,
} from "./observer-queries.js";

/**
 * Every document shape the observer's builder produces is valid against GitHub's real public
 * schema (`@octokit/graphql-schema`), within GitHub's pagination and node limits, and costs what
 * GitHub's formula says. Names travel as variables, never in the text.
 */

function pulls(count: number, input: Partial<PullQueryTarget> = {}): PullQueryTarget[] {
  return Array.from({ length: count }, (_, index) => ({
    owner: "acme",
    repo: "widgets",
    number: index + 1,
    threads: false,
    ...input,
  }));
}

function checked(built: PullsQuery): { document: DocumentNode; cost: number; nodeCount: number } {
  const schema = githubSchema();
  const document = parse(built.query);
  expect(validate(schema, document).map((error) => error.message)).toEqual([]);
  const args = validateExecutionArgs({ schema, document, variableValues: built.variables });
  if (!("schema" in args)) throw new Error(args.map((error) => error.message).join("; "));
  const analysis = analyzeQuery(args);
  // GitHub's own limits: page sizes 1–100 on every connection, at most 500,000 nodes.
  expect(analysis.errors).toEqual([]);
  return { document, cost: analysis.cost, nodeCount: analysis.nodeCount };
}

describe("buildPullsQuery: documents valid against GitHub's schema", () => {
  it("one PR without threads", () => {
    const built = buildPullsQuery(pulls(1));
    const { cost } = checked(built);
    expect(cost).toBe(1);
    expect(built.variables).toEqual({ o0: "acme", n0: "widgets" });
    expect(built.aliases).toEqual([{ repo: "r0", pull: "p0" }]);
    expect(built.query).toContain("p0: pullRequest(number: 1) { ...PullFacts }");
    expect(built.query).not.toContain("PullReview");
    expect(built.query).toContain("rateLimit { cost remaining resetAt }");
    expect(built.query).toContain("viewer { login }");
  });

  it("one PR with threads", () => {
    const built = buildPullsQuery(pulls(1, { threads: true }));
    checked(built);
    expect(built.query).toContain("p0: pullRequest(number: 1) { ...PullFacts ...PullReview }");
    expect(built.query).toContain(`reviewThreads(last: ${DEFAULT_THREADS_PAGE_SIZE})`);
  });

  it("25 PRs of one repository without threads: GitHub's formula gives exactly 1 point", () => {
    const built = buildPullsQuery(pulls(25));
    const { cost } = checked(built);
    expect(cost).toBe(1);
    expect(built.aliases).toEqual(
      Array.from({ length: 25 }, (_, index) => ({ repo: "r0", pull: `p${index}` })),
    );
    expect(built.query.match(/repository\(/g)).toHaveLength(1);
  });

  it("25 PRs with threads: valid, and its cost is the thread page size's doing", () => {
    const { cost, nodeCount } = checked(buildPullsQuery(pulls(25, { threads: true })));
    // Per PR: commits + contexts + reviewThreads + one comments per thread + latestOpinionatedReviews.
    expect(cost).toBe(Math.round((25 * (4 + DEFAULT_THREADS_PAGE_SIZE)) / 100));
    expect(nodeCount).toBeLessThan(500_000);
    const small = checked(buildPullsQuery(pulls(25, { threads: true }), { threadsPageSize: 10 }));
    expect(small.cost).toBe(Math.round((25 * (4 + 10)) / 100));
  });

  it("several repositories, mixed threads: one repository field per repository, names only in variables", () => {
    const targets: PullQueryTarget[] = [
      { owner: "acme", repo: "widgets", number: 7, threads: false },
      { owner: "globex", repo: "api", number: 3, threads: true },
      { owner: "ACME", repo: "Widgets", number: 9, threads: true },
      { owner: "initech", repo: "tps-reports", number: 1, threads: false },
    ];
    const built = buildPullsQuery(targets);
    checked(built);
    expect(built.variables).toEqual({
      o0: "acme",
      n0: "widgets",
      o1: "globex",
      n1: "api",
      o2: "initech",
      n2: "tps-reports",
    });
    // GitHub names repositories case-insensitively: ACME/Widgets joins acme/widgets.
    expect(built.aliases).toEqual([
      { repo: "r0", pull: "p0" },
      { repo: "r1", pull: "p1" },
      { repo: "r0", pull: "p2" },
      { repo: "r2", pull: "p3" },
    ]);
    expect(built.query.match(/repository\(/g)).toHaveLength(3);
    expect(built.query).toContain("r1: repository(owner: $o1, name: $n1)");
    expect(built.query).toContain("p2: pullRequest(number: 9) { ...PullFacts ...PullReview }");
  });

  it("25 PRs over 25 repositories, all with threads", () => {
    const targets = Array.from({ length: MAX_PULLS_PER_QUERY }, (_, index) => ({
      owner: `owner-${index}`,
      repo: `repo-${index}`,
      number: 1000 + index,
      threads: true,
    }));
    const built = buildPullsQuery(targets);
    checked(built);
    expect(Object.keys(built.variables)).toHaveLength(50);
  });

  it("owner and name never appear in the query text, even hostile ones", () => {
    const hostile: PullQueryTarget[] = [
      { owner: 'x") { id } evil: viewer { login } #', repo: "zzz-unique-repo", number: 4, threads: true },
      { owner: "qqq-unique-owner", repo: "r\nquery", number: 5, threads: false },
    ];
    const built = buildPullsQuery(hostile);
    checked(built);
    for (const target of hostile) {
      expect(built.query).not.toContain(target.owner);
      expect(built.query).not.toContain(target.repo);
    }
    expect(built.variables.o0).toBe(hostile[0]?.owner);
    expect(built.variables.n1).toBe(hostile[1]?.repo);
  });
});

describe("buildPullsQuery: refusals", () => {
  it("26 PRs are refused", () => {
    expect(() => buildPullsQuery(pulls(26))).toThrow(RangeError);
    expect(() => buildPullsQuery(pulls(25))).not.toThrow();
  });

  it("no PR is refused", () => {
    expect(() => buildPullsQuery([])).toThrow(RangeError);
  });

  it.each([0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, "12" as unknown as number])(
    "PR number %s is refused",
    (number) => {
      expect(() => buildPullsQuery([{ owner: "acme", repo: "widgets", number, threads: false }])).toThrow(
        RangeError,
      );
    },
  );

  it("an empty owner or name is refused", () => {
    expect(() => buildPullsQuery([{ owner: "", repo: "widgets", number: 1, threads: false }])).toThrow(
      RangeError,
    );
    expect(() => buildPullsQuery([{ owner: "acme", repo: "", number: 1, threads: false }])).toThrow(
      RangeError,
    );
  });

  it.each([0, 101, 2.5])("threadsPageSize %s is refused", (size) => {
    expect(() => buildPullsQuery(pulls(1, { threads: true }), { threadsPageSize: size })).toThrow(RangeError);
  });
});
