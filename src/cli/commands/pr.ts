import type { Command } from "commander";
import { PR_STATES } from "../../domain/pull-request.js";
import type { ApiClient } from "../api-client.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { shortTime, type Output } from "../output.js";
import { fetchAllPages, type Page } from "../pages.js";

interface PrSummaryView {
  id: string;
  repo: string | null;
  number: number;
  url: string;
  title: string;
  state: string;
  draft: boolean;
  headRef: string;
  baseRef: string;
  sessionId: string | null;
  proposalId: string | null;
  ci: string;
  failingChecks: string[];
  mergeable: string;
  reviewDecision: string | null;
  unresolvedThreads: number;
  observedAt: string | null;
}

interface PrDetailView extends PrSummaryView {
  headSha: string;
  checks: {
    name: string;
    state: string;
    conclusion: string | null;
    url: string | null;
    logTail: string | null;
  }[];
  review: {
    threads: {
      id: string;
      path: string | null;
      line: number | null;
      comments: { author: string; body: string }[];
    }[];
    changeRequests: { author: string; body: string }[];
  } | null;
  reactions: Record<string, { episode: number; active: boolean; attempts: number; escalated: boolean }>;
}

function stateLabel(pr: PrSummaryView): string {
  return pr.draft && pr.state === "open" ? "draft" : pr.state;
}

function reviewLabel(pr: PrSummaryView): string {
  const decision = pr.reviewDecision?.toLowerCase().replace("_", " ") ?? "-";
  return pr.unresolvedThreads > 0 ? `${decision} (${pr.unresolvedThreads} open)` : decision;
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}

function printPr(output: Output, pr: PrDetailView): void {
  output.print(`${pr.repo ?? "?"}#${pr.number}  ${pr.title}`);
  const rows: [string, string][] = [
    ["id", pr.id],
    ["url", pr.url],
    ["state", stateLabel(pr)],
    ["branch", `${pr.headRef} → ${pr.baseRef} at ${pr.headSha.slice(0, 7)}`],
    ["ci", pr.ci],
    ["mergeable", pr.mergeable],
    ["review", reviewLabel(pr)],
    ["session", pr.sessionId ?? "-"],
    ["proposal", pr.proposalId ?? "-"],
    ["observed", shortTime(pr.observedAt)],
  ];
  for (const [key, value] of rows) output.print(`  ${key.padEnd(10)} ${value}`);
  const failing = pr.checks.filter((check) => check.state === "failure");
  if (failing.length > 0) output.print("\nFailing checks:");
  for (const check of failing) {
    output.print(`  ${check.name} (${check.conclusion ?? "failure"})${check.url ? `  ${check.url}` : ""}`);
    if (check.logTail) output.print(indent(check.logTail, "    | "));
  }
  const review = pr.review;
  if (review && (review.threads.length > 0 || review.changeRequests.length > 0)) {
    output.print("\nUnresolved review feedback:");
    for (const request of review.changeRequests) {
      output.print(`  @${request.author} requested changes${request.body ? `: ${request.body}` : ""}`);
    }
    for (const thread of review.threads) {
      const where = thread.path
        ? `${thread.path}${thread.line === null ? "" : `:${thread.line}`}`
        : "conversation";
      output.print(`  ${where}`);
      for (const comment of thread.comments)
        output.print(indent(`@${comment.author}: ${comment.body}`, "    "));
    }
  }
  const reactions = Object.entries(pr.reactions).filter(
    ([, episode]) => episode.active || episode.attempts > 0,
  );
  if (reactions.length > 0) {
    output.print("\nReactions:");
    for (const [key, episode] of reactions) {
      const state = episode.escalated ? "escalated" : episode.active ? "active" : "done";
      output.print(`  ${key.padEnd(20)} ${state}, ${episode.attempts} sent (episode ${episode.episode})`);
    }
  }
}

/** `pr_…` or `<repo>#<number>`. */
export async function resolvePr(client: ApiClient, ref: string): Promise<string> {
  const match = /^([^#\s]+)#(\d+)$/.exec(ref);
  if (!match) return ref;
  const [, repo, number] = match as unknown as [string, string, string];
  const page = await client.get<Page<PrSummaryView>>(
    `/api/v1/pull-requests?repo=${encodeURIComponent(repo)}&number=${number}&limit=1`,
  );
  const found = page.data[0];
  if (!found) throw new CliError(`Shepherd tracks no pull request ${ref}`);
  return found.id;
}

/** `shepherd pr ls|show` (SPEC C4): the PRs Shepherd watches and what it observed. */
export function registerPr(program: Command): void {
  const pr = program.command("pr").description("pull requests Shepherd opened or discovered, as observed");

  pr.command("ls")
    .description("list tracked pull requests, newest first")
    .option("--repo <name>", "only this repo")
    .option("--state <state>", PR_STATES.join(" | "))
    .option("--session <id>", "only this session's")
    .action(async (options: { repo?: string; state?: string; session?: string }, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const query = new URLSearchParams();
      if (options.repo) query.set("repo", options.repo);
      if (options.state) query.set("state", options.state);
      if (options.session) query.set("session", options.session);
      const suffix = query.toString() ? `?${query.toString()}` : "";
      const prs = await fetchAllPages<PrSummaryView>(client, `/api/v1/pull-requests${suffix}`);
      if (output.json) {
        output.printJson(prs);
        return;
      }
      output.table(
        ["ID", "PR", "STATE", "CI", "MERGEABLE", "REVIEW", "TITLE"],
        prs.map((item) => [
          item.id,
          `${item.repo ?? "?"}#${item.number}`,
          stateLabel(item),
          item.failingChecks.length > 0 ? `failure (${item.failingChecks.join(", ")})` : item.ci,
          item.mergeable.toLowerCase(),
          reviewLabel(item),
          item.title.length > 50 ? `${item.title.slice(0, 49)}…` : item.title,
        ]),
      );
    });

  pr.command("show <pr>")
    .description(
      "show a pull request (by id or <repo>#<number>): checks with log tails, review threads, reactions",
    )
    .action(async (ref: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const id = await resolvePr(client, ref);
      const found = await client.get<PrDetailView>(`/api/v1/pull-requests/${encodeURIComponent(id)}`);
      if (output.json) output.printJson(found);
      else printPr(output, found);
    });
}
