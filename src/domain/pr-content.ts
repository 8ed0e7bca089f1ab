import { PROPOSAL_TRAILER, type Evidence, type FileChange } from "./proposal.js";

/** What a PR says (SPEC C3 steps 10, 12, 13). Pure: the worker redacts and sends it. */
export interface PrContentInput {
  proposalId: string;
  sessionId: string | null;
  title: string;
  /** For params proposals: the keys as changed. */
  paramChanges: { key: string; from: unknown; to: unknown }[] | null;
  /** For files proposals. */
  fileChanges: FileChange[] | null;
  evidence: Evidence | null;
  /** `table` when the chart could not be rendered and the importance goes into the body instead. */
  chart: "committed" | "table" | "none";
  publicUrl: string | null;
  /** `follow_up`: the text of the comment that announces a follow-up commit on an open PR. */
  role?: "pr" | "follow_up";
}

const CELL_MAX = 200;

/** A value as Markdown inline code inside a table cell: JSON-rendered, cut, pipes escaped. */
function codeCell(value: unknown): string {
  const text = value === undefined ? "(unset)" : JSON.stringify(value);
  const cut = text.length > CELL_MAX ? `${text.slice(0, CELL_MAX)}…` : text;
  const fence = cut.includes("`") ? "``" : "`";
  return `${fence}${cut.replace(/\|/g, "\\|").replace(/\n/g, " ")}${fence}`;
}

function keyCell(key: string): string {
  return `\`${textCell(key).replace(/`/g, "'")}\``;
}

function textCell(text: string): string {
  const cut = text.length > CELL_MAX ? `${text.slice(0, CELL_MAX)}…` : text;
  return cut.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ");
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

function delta(baseline: number, achieved: number): string {
  if (baseline === 0) return achieved === 0 ? "±0" : "n/a";
  const percent = ((achieved - baseline) / Math.abs(baseline)) * 100;
  return `${percent >= 0 ? "+" : ""}${percent.toFixed(1)}%`;
}

export function chartPath(proposalId: string): string {
  return `.shepherd/charts/${proposalId}.png`;
}

export function chartMarker(proposalId: string): string {
  return `<!-- shepherd:chart:${proposalId} -->`;
}

/** The PR title: the proposal's, on one line, at most 256 characters (GitHub's limit is higher). */
export function renderPrTitle(title: string): string {
  const line = title.replace(/\s+/g, " ").trim();
  return line.length > 256 ? `${line.slice(0, 255)}…` : line;
}

export function renderPrBody(input: PrContentInput): string {
  const sections: string[] = [];
  const evidence = input.evidence;
  if (evidence?.summary) sections.push(evidence.summary.trim());

  if (evidence?.metrics && evidence.metrics.length > 0) {
    sections.push(
      [
        "### Results",
        "",
        "| metric | baseline | achieved | change |",
        "| --- | ---: | ---: | ---: |",
        ...evidence.metrics.map(
          (m) =>
            `| ${textCell(m.name)} | ${formatNumber(m.baseline)} | ${formatNumber(m.achieved)} | ${delta(m.baseline, m.achieved)} |`,
        ),
      ].join("\n"),
    );
  }

  if (input.paramChanges && input.paramChanges.length > 0) {
    sections.push(
      [
        "### Changes",
        "",
        "| key | from | to |",
        "| --- | --- | --- |",
        ...input.paramChanges.map((c) => `| ${keyCell(c.key)} | ${codeCell(c.from)} | ${codeCell(c.to)} |`),
      ].join("\n"),
    );
  } else if (input.fileChanges && input.fileChanges.length > 0) {
    sections.push(
      [
        "### Changes",
        "",
        ...input.fileChanges.map(
          (f) => `- \`${textCell(f.path)}\` ${"delete" in f ? "(deleted)" : "(written)"}`,
        ),
      ].join("\n"),
    );
  }

  if (input.chart === "table" && evidence?.importance) {
    const rows = Object.entries(evidence.importance).sort((a, b) => b[1] - a[1]);
    sections.push(
      [
        "### Parameter importance",
        "",
        "| parameter | importance |",
        "| --- | ---: |",
        ...rows.map(([name, weight]) => `| ${textCell(name)} | ${formatNumber(weight)} |`),
      ].join("\n"),
    );
  }

  if (evidence?.followups && evidence.followups.length > 0) {
    sections.push(["### Follow-ups", "", ...evidence.followups.map((f) => `- ${textCell(f)}`)].join("\n"));
  }
  if (evidence?.links && evidence.links.length > 0) {
    sections.push(
      [
        "### Links",
        "",
        ...evidence.links.map((l) => `- [${textCell(l.title).replace(/[[\]]/g, "")}](${l.url})`),
      ].join("\n"),
    );
  }

  const base = input.publicUrl?.replace(/\/+$/, "") ?? null;
  const origin = input.sessionId
    ? base
      ? `for session [${input.sessionId}](${base}/sessions/${input.sessionId})`
      : `for session \`${input.sessionId}\``
    : base
      ? `([proposal](${base}/proposals/${input.proposalId}))`
      : "";
  sections.push(
    input.role === "follow_up"
      ? [
          "---",
          `Pushed to this pull request by Shepherd from follow-up proposal \`${input.proposalId}\`${origin ? ` ${origin}` : ""}.`,
        ].join("\n")
      : [
          "---",
          `Opened by Shepherd from proposal \`${input.proposalId}\`${origin ? ` ${origin}` : ""}.` +
            " Close it here or reject the proposal in Shepherd.",
        ].join("\n"),
  );
  return `${sections.join("\n\n")}\n`;
}

export function followUpMarker(proposalId: string): string {
  return `<!-- shepherd:follow-up:${proposalId} -->`;
}

/** The conversation comment that says what a follow-up commit changed, and why. */
export function renderFollowUpComment(input: PrContentInput & { commit: string | null }): string {
  const at = input.commit ? ` (${input.commit.slice(0, 7)})` : "";
  const body = renderPrBody({
    ...input,
    chart: input.chart === "none" ? "none" : "table",
    role: "follow_up",
  });
  return `${followUpMarker(input.proposalId)}\n### Follow-up: ${renderPrTitle(input.title)}${at}\n\n${body}`;
}

/** The commit message: subject, optional summary, and the trailers that mark our own commits. */
export function renderCommitMessage(input: {
  proposalId: string;
  sessionId: string | null;
  title: string;
  summary?: string | undefined;
}): string {
  const subject = renderPrTitle(input.title).slice(0, 72);
  const trailers = [`${PROPOSAL_TRAILER}: ${input.proposalId}`];
  if (input.sessionId) trailers.push(`Shepherd-Session: ${input.sessionId}`);
  const parts = [subject];
  if (input.summary?.trim()) parts.push(input.summary.trim());
  parts.push(trailers.join("\n"));
  return `${parts.join("\n\n")}\n`;
}

/** The conversation comment that shows the committed chart, by its `raw/refs/heads/` URL. */
export function renderChartComment(input: {
  webUrl: string;
  owner: string;
  repo: string;
  branch: string;
  proposalId: string;
}): string {
  const url = `${input.webUrl.replace(/\/+$/, "")}/${input.owner}/${input.repo}/raw/refs/heads/${input.branch}/${chartPath(input.proposalId)}`;
  return `${chartMarker(input.proposalId)}\n![Parameter importance](${url})\n`;
}
