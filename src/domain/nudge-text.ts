import type { ChangeRequest, CheckResult, PrObservation, ReviewThread } from "./pull-request.js";

/**
 * The text of nudges and notifications (SPEC C5). Everything that came from GitHub is
 * sanitized before it reaches an agent's conversation or terminal: no escape sequences, no
 * control characters, no bidirectional overrides, and a length cap with a pointer to the full
 * text.
 */

// CSI and OSC sequences and single-character escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]/g;
// C0 and C1 controls except tab and newline; DEL; bidi embeddings, overrides and isolates.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function sanitizeText(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(ESCAPE_SEQUENCES, "").replace(CONTROL, "");
}

/** Nudges longer than this are cut, with a pointer to where the whole text can be read. */
export const NUDGE_MAX_CHARS = 4000;
/** What is kept of one comment or review body inside a nudge. */
const BODY_MAX_CHARS = 1200;
export const LOG_TAIL_LINES = 20;
const LOG_LINE_MAX_CHARS = 400;

/** Cuts `text` to `max` characters at a line end where possible, ending with `pointer`. */
export function capText(text: string, max: number, pointer: string): string {
  if (text.length <= max) return text;
  const suffix = `\n… (truncated) ${pointer}`;
  const room = Math.max(0, max - suffix.length);
  const cut = text.slice(0, room);
  const lineEnd = cut.lastIndexOf("\n");
  return `${lineEnd > room / 2 ? cut.slice(0, lineEnd) : cut}${suffix}`;
}

function shortBody(body: string): string {
  const clean = sanitizeText(body).trim();
  return clean.length > BODY_MAX_CHARS ? `${clean.slice(0, BODY_MAX_CHARS)}…` : clean;
}

/** A fence longer than any run of backticks inside, so the content cannot close it. */
function fenced(content: string): string {
  const longest = Math.max(0, ...[...content.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}\n${content}\n${fence}`;
}

/** The last lines of a job log, without runner timestamps, control characters or overlong lines. */
export function logTail(log: string, lines: number = LOG_TAIL_LINES): string {
  const kept = sanitizeText(log)
    .split("\n")
    .map((line) => line.replace(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?/, "").trimEnd())
    .filter((line, index, all) => !(index === all.length - 1 && line === ""));
  return kept
    .slice(-lines)
    .map((line) => (line.length > LOG_LINE_MAX_CHARS ? `${line.slice(0, LOG_LINE_MAX_CHARS)}…` : line))
    .join("\n");
}

export type PrSummary = Pick<PrObservation, "number" | "title" | "url" | "headRef" | "baseRef" | "headSha">;

function prLine(pr: PrSummary): string {
  return `PR #${pr.number} "${sanitizeText(pr.title)}" (${sanitizeText(pr.headRef)} → ${sanitizeText(pr.baseRef)})`;
}

function withLead(lead: string | null, text: string): string {
  return lead ? `${sanitizeText(lead).trim()}\n\n${text}` : text;
}

export function ciFailedText(pr: PrSummary, failing: readonly CheckResult[], lead: string | null): string {
  const parts = [`CI is failing on ${prLine(pr)} at ${pr.headSha.slice(0, 7)}.`];
  for (const check of failing) {
    const lines = [`Failed: ${sanitizeText(check.name)} (${sanitizeText(check.conclusion ?? "failure")})`];
    if (check.url) lines.push(sanitizeText(check.url));
    if (check.logTail) lines.push(`Last lines of the log:\n${fenced(check.logTail)}`);
    parts.push(lines.join("\n"));
  }
  parts.push(
    "Use the log tail and the URL above first; fetch the whole log only if you need more. Push a fix.",
  );
  return withLead(lead, parts.join("\n\n"));
}

function location(thread: ReviewThread): string {
  if (!thread.path) return "conversation";
  const path = sanitizeText(thread.path);
  return thread.line === null ? `${path} (outdated)` : `${path}:${thread.line}`;
}

export function reviewText(
  pr: PrSummary,
  threads: readonly ReviewThread[],
  changeRequests: readonly ChangeRequest[],
  lead: string | null,
): string {
  const count = threads.length + changeRequests.length;
  const parts = [`Review feedback on ${prLine(pr)}: ${count} unresolved item${count === 1 ? "" : "s"}.`];
  for (const request of changeRequests) {
    const body = shortBody(request.body);
    parts.push(
      `- @${request.author} requested changes${body ? `:\n  ${body.replace(/\n/g, "\n  ")}` : "."}\n  ${request.url}`,
    );
  }
  for (const thread of threads) {
    const comments = thread.comments
      .map((comment) => `  @${comment.author}: ${shortBody(comment.body).replace(/\n/g, "\n    ")}`)
      .join("\n");
    const last = thread.comments.at(-1);
    parts.push(`- ${location(thread)} (thread ${thread.id})\n${comments}${last ? `\n  ${last.url}` : ""}`);
  }
  parts.push("Address each item and push; reply in the thread when you disagree.");
  return withLead(lead, parts.join("\n\n"));
}

export function conflictText(pr: PrSummary, lead: string | null): string {
  const base = sanitizeText(pr.baseRef);
  return withLead(
    lead,
    `${prLine(pr)} has merge conflicts with ${base}. Rebase the branch onto the latest ${base} ` +
      `(git fetch origin ${base} && git rebase origin/${base}), resolve the conflicts, run the tests, and push.`,
  );
}
