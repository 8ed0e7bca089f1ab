import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";

const PARAMS_JSON = `{
  "search": {
    "boost": {
      "title": 1.5,
      "body": 1
    },
    "fuzziness": "AUTO"
  },
  "limit": 20
}
`;

const PARAMS_YAML = `# Search tuning for the storefront
search:
  boost:
    title: 1.5   # raise with care
    body: 1.0
  # fuzziness applies to every field
  fuzziness: AUTO
limit: 20
`;

function changedLines(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  expect(b.length).toBe(a.length);
  return b.filter((line, index) => line !== a[index]);
}

describe.each(DATABASE_KINDS)("PR worker happy paths ($kind)", ({ kind, skip }) => {
  let h: PrHarness;

  beforeEach(async () => {
    if (!skip) h = await startPrHarness({ kind });
  });

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  it.skipIf(skip)("opens a PR for a params change to a JSON file, changing only that value", async () => {
    const repo = await h.addRepo({ name: "search-json", files: { "config/params.json": PARAMS_JSON } });
    const proposal = await h.propose({
      repoId: repo.name,
      title: "Raise the title boost",
      kind: "params",
      change: { path: "config/params.json", set: { "search.boost.title": { from: 1.5, to: 2.25 } } },
      evidence: {
        summary: "Titles matter more than we thought.",
        metrics: [{ name: "ndcg@10", baseline: 0.41, achieved: 0.45 }],
      },
    });
    expect((await h.openPr(proposal.id)).status).toBe(202);
    const done = await h.settled(proposal.id);
    expect(done).toMatchObject({ status: "pr_opened", prOpenError: null });
    expect(done.pr?.branch).toBe(`shepherd/proposal-${proposal.id}`);

    const pulls = h.sim.admin.pulls(repo.owner, repo.repo);
    expect(pulls).toHaveLength(1);
    const pull = pulls[0];
    expect(pull).toMatchObject({ number: done.pr?.number, title: "Raise the title boost", state: "open" });
    expect(pull?.body).toContain("| ndcg@10 | 0.41 | 0.45 | +9.8% |");
    expect(pull?.body).toContain("| `search.boost.title` | `1.5` | `2.25` |");

    const after = await h.sim.admin.readFile({
      owner: repo.owner,
      repo: repo.repo,
      ref: `shepherd/proposal-${proposal.id}`,
      path: "config/params.json",
    });
    expect(changedLines(PARAMS_JSON, after ?? "")).toEqual(['      "title": 2.25,']);
    const head = await h.sim.admin.branchHead(repo.owner, repo.repo, `shepherd/proposal-${proposal.id}`);
    const message = await h.sim.admin.commitMessage(repo.owner, repo.repo, head ?? "");
    expect(message).toContain(`Shepherd-Proposal: ${proposal.id}`);

    const opened = await h.eventsOf("pr.opened");
    expect(opened.map((e) => e.payload)).toEqual([
      expect.objectContaining({ proposalId: proposal.id, number: done.pr?.number, adopted: false }),
    ]);
  });

  it.skipIf(skip)("keeps YAML comments, order and layout when it edits values", async () => {
    const repo = await h.addRepo({ name: "search-yaml", files: { "tuning.yaml": PARAMS_YAML } });
    const proposal = await h.propose({
      repoId: repo.name,
      title: "Tune boosts",
      kind: "params",
      change: {
        path: "tuning.yaml",
        set: { "search.boost.title": { to: 2 }, "search.fuzziness": { from: "AUTO", to: "1" } },
      },
    });
    await h.openPr(proposal.id);
    expect((await h.settled(proposal.id)).status).toBe("pr_opened");
    const after = await h.sim.admin.readFile({
      owner: repo.owner,
      repo: repo.repo,
      ref: `shepherd/proposal-${proposal.id}`,
      path: "tuning.yaml",
    });
    expect(changedLines(PARAMS_YAML, after ?? "")).toEqual([
      "    title: 2   # raise with care",
      '  fuzziness: "1"',
    ]);
  });

  it.skipIf(skip)("writes and deletes files for a files proposal", async () => {
    const repo = await h.addRepo({
      name: "files-repo",
      files: { "README.md": "# hi\n", "old.txt": "bye\n" },
    });
    const proposal = await h.propose({
      repoId: repo.name,
      title: "Add a runbook",
      kind: "files",
      change: {
        files: [
          { path: "docs/runbook.md", content: "# Runbook\n\nRestart it.\n" },
          { path: "old.txt", delete: true },
        ],
      },
    });
    await h.openPr(proposal.id);
    expect((await h.settled(proposal.id)).status).toBe("pr_opened");
    const branch = `shepherd/proposal-${proposal.id}`;
    expect(
      await h.sim.admin.readFile({
        owner: repo.owner,
        repo: repo.repo,
        ref: branch,
        path: "docs/runbook.md",
      }),
    ).toBe("# Runbook\n\nRestart it.\n");
    expect(
      await h.sim.admin.readFile({ owner: repo.owner, repo: repo.repo, ref: branch, path: "old.txt" }),
    ).toBeNull();
    expect(h.sim.admin.pulls(repo.owner, repo.repo)[0]?.body).toContain("- `old.txt` (deleted)");
  });

  it.skipIf(skip)("a manual proposal gets no chart, no comment and no evidence sections", async () => {
    const repo = await h.addRepo({ name: "manual-repo", files: { "p.json": '{"a": 1}\n' } });
    const proposal = await h.propose({
      repoId: repo.name,
      title: "Set a to 2",
      kind: "params",
      change: { path: "p.json", set: { a: { to: 2 } } },
    });
    expect(proposal.manual).toBe(true);
    await h.openPr(proposal.id);
    const done = await h.settled(proposal.id);
    expect(done.status).toBe("pr_opened");
    const pull = h.sim.admin.pulls(repo.owner, repo.repo)[0];
    for (const section of ["### Results", "### Parameter importance", "### Follow-ups", "### Links"]) {
      expect(pull?.body).not.toContain(section);
    }
    expect(h.sim.admin.issueComments(repo.owner, repo.repo, done.pr?.number ?? 0)).toEqual([]);
    const branch = `shepherd/proposal-${proposal.id}`;
    expect(
      await h.sim.admin.readFile({
        owner: repo.owner,
        repo: repo.repo,
        ref: branch,
        path: `.shepherd/charts/${proposal.id}.png`,
      }),
    ).toBeNull();
  });

  it.skipIf(skip)(
    "commits the importance chart and shows it in a comment by its raw/refs/heads URL",
    async () => {
      const repo = await h.addRepo({ name: "chart-repo", files: { "p.json": '{"a": 1, "b": 2}\n' } });
      const proposal = await h.propose({
        repoId: repo.name,
        title: "Tune a",
        kind: "params",
        change: { path: "p.json", set: { a: { to: 3 } } },
        evidence: { importance: { a: 0.7, b: 0.3 }, followups: ["tune b next"] },
      });
      await h.openPr(proposal.id);
      const done = await h.settled(proposal.id);
      expect(done.status).toBe("pr_opened");
      const comments = h.sim.admin.issueComments(repo.owner, repo.repo, done.pr?.number ?? 0);
      expect(comments).toHaveLength(1);
      const url = /\((http[^)]+\.png)\)/.exec(comments[0]?.body ?? "")?.[1];
      expect(url).toBe(
        `${h.sim.baseUrl}/${repo.owner}/${repo.repo}/raw/refs/heads/shepherd/proposal-${proposal.id}/.shepherd/charts/${proposal.id}.png`,
      );
      // The repository is private: like GitHub, the raw file needs a token that can read it.
      const png = await fetch(url ?? "", { headers: { authorization: `token ${repo.token}` } });
      expect(png.status).toBe(200);
      expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
      const body = h.sim.admin.pulls(repo.owner, repo.repo)[0]?.body ?? "";
      expect(body).toContain("- tune b next");
      expect(body).not.toContain("### Parameter importance");
    },
  );
  it.skipIf(skip)(
    "falls back to an importance table in the body when the chart cannot be written",
    async () => {
      // A file named .shepherd stands where the chart directory would go, so the chart cannot be written.
      const repo = await h.addRepo({
        name: "no-chart-repo",
        files: { "p.json": '{"a": 1, "b": 2}\n', ".shepherd": "not a directory\n" },
      });
      const proposal = await h.propose({
        repoId: repo.name,
        title: "Tune a",
        kind: "params",
        change: { path: "p.json", set: { a: { to: 3 } } },
        evidence: { importance: { a: 0.7, b: 0.3 } },
      });
      await h.openPr(proposal.id);
      const done = await h.settled(proposal.id);
      expect(done.status).toBe("pr_opened");
      const body = h.sim.admin.pulls(repo.owner, repo.repo)[0]?.body ?? "";
      expect(body).toContain("### Parameter importance");
      expect(body).toContain("| a | 0.7 |");
      expect(body.indexOf("| a | 0.7 |")).toBeLessThan(body.indexOf("| b | 0.3 |"));
      expect(h.sim.admin.issueComments(repo.owner, repo.repo, done.pr?.number ?? 0)).toHaveLength(0);
      const [opened] = await h.eventsOf("pr.opened");
      expect(opened?.payload).toMatchObject({ chart: "table" });
    },
  );
});
