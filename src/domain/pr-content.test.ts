import { describe, expect, it } from "vitest";
import {
  chartMarker,
  renderChartComment,
  renderCommitMessage,
  renderPrBody,
  renderPrTitle,
} from "./pr-content.js";

const base = {
  proposalId: "prop_1",
  sessionId: null,
  title: "Tune search boosts",
  fileChanges: null,
  publicUrl: null,
} as const;

describe("renderPrBody", () => {
  it("a manual proposal has the changes and the footer only", () => {
    const body = renderPrBody({
      ...base,
      paramChanges: [{ key: "boost.title", from: 1, to: 2 }],
      evidence: null,
      chart: "none",
    });
    expect(body).toContain("### Changes");
    expect(body).toContain("| `boost.title` | `1` | `2` |");
    for (const section of ["### Results", "### Follow-ups", "### Links", "### Parameter importance"]) {
      expect(body).not.toContain(section);
    }
    expect(body).toContain("Opened by Shepherd from proposal `prop_1`.");
  });

  it("evidence adds summary, metric deltas, follow-ups and links; the importance table only as a chart fallback", () => {
    const evidence = {
      summary: "Better titles.",
      metrics: [{ name: "ndcg@10", baseline: 0.4, achieved: 0.44 }],
      importance: { "boost.title": 0.8, "boost.body": 0.2 },
      followups: ["try phrase boost"],
      links: [{ title: "study", url: "https://example.com/s/1" }],
    };
    const withChart = renderPrBody({ ...base, paramChanges: [], evidence, chart: "committed" });
    expect(withChart).toMatch(/^Better titles\./);
    expect(withChart).toContain("| ndcg@10 | 0.4 | 0.44 | +10.0% |");
    expect(withChart).toContain("- try phrase boost");
    expect(withChart).toContain("- [study](https://example.com/s/1)");
    expect(withChart).not.toContain("### Parameter importance");
    const fallback = renderPrBody({ ...base, paramChanges: [], evidence, chart: "table" });
    expect(fallback).toContain("### Parameter importance");
    expect(fallback.indexOf("boost.title")).toBeLessThan(fallback.indexOf("boost.body"));
  });

  it("escapes table-breaking characters and cuts long values", () => {
    const body = renderPrBody({
      ...base,
      paramChanges: [{ key: "a|b", from: "x|y\nz", to: "q".repeat(500) }],
      evidence: null,
      chart: "none",
    });
    const row = body.split("\n").find((line) => line.startsWith("| `a"));
    expect(row).toBeDefined();
    expect(row).toContain("a\\|b");
    expect(row).toContain("…");
    expect(row?.split(" | ").length).toBe(3);
  });

  it("files proposals list the written and deleted files", () => {
    const body = renderPrBody({
      ...base,
      paramChanges: null,
      fileChanges: [
        { path: "a.txt", content: "x" },
        { path: "old.txt", delete: true },
      ],
      evidence: null,
      chart: "none",
    });
    expect(body).toContain("- `a.txt` (written)");
    expect(body).toContain("- `old.txt` (deleted)");
  });

  it("links the session when a public URL is set", () => {
    const body = renderPrBody({
      ...base,
      sessionId: "s1",
      publicUrl: "https://shepherd.example.com/",
      paramChanges: [],
      evidence: null,
      chart: "none",
    });
    expect(body).toContain("for session [s1](https://shepherd.example.com/sessions/s1)");
  });
});

describe("titles, commit messages and chart comments", () => {
  it("keeps the title on one line", () => {
    expect(renderPrTitle("  a\nb\tc  ")).toBe("a b c");
    expect(renderPrTitle("x".repeat(300))).toHaveLength(256);
  });

  it("ends the commit message with the trailers", () => {
    const message = renderCommitMessage({
      proposalId: "prop_1",
      sessionId: "s1",
      title: "Tune",
      summary: "why",
    });
    expect(message).toBe("Tune\n\nwhy\n\nShepherd-Proposal: prop_1\nShepherd-Session: s1\n");
  });

  it("points the chart comment at the raw/refs/heads URL of the branch", () => {
    const comment = renderChartComment({
      webUrl: "https://github.com",
      owner: "acme",
      repo: "cfg",
      branch: "shepherd/proposal-prop_1",
      proposalId: "prop_1",
    });
    expect(comment).toContain(chartMarker("prop_1"));
    expect(comment).toContain(
      "![Parameter importance](https://github.com/acme/cfg/raw/refs/heads/shepherd/proposal-prop_1/.shepherd/charts/prop_1.png)",
    );
  });
});
