import type { Command } from "commander";
import type { WebhookRegistrationResult } from "../../services/webhook-registration.js";
import { FOLLOW_UP_MODES, MERGE_METHODS } from "../../domain/repo.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { fetchAllPages } from "../pages.js";
import { shortTime } from "../output.js";

interface RepoView {
  id: string;
  name: string;
  url: string;
  baseBranch: string;
  tokenRef: string;
  webhookSecretRef: string | null;
  autoMerge: boolean;
  mergeMethod: string;
  followUps: string;
  createdAt: string;
  version: number;
  observation?: {
    health: string;
    healthReason: string | null;
    lastPolledAt: string | null;
    webhook: { hookId: number | null; lastDeliveryAt: string | null; healthy: boolean };
  };
}

interface RepoCheckView {
  ok: boolean;
  repository: string;
  tokenRef: string;
  access: {
    defaultBranch: string;
    private: boolean;
    push: boolean;
    admin: boolean;
    scopes: string[] | null;
  } | null;
  rateLimit: { remaining: number; limit: number; reset: number } | null;
  problems: string[];
}

type RepoWebhookView = WebhookRegistrationResult;

function oneOf(values: readonly string[], flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !values.includes(value)) {
    throw new CliError(`${flag} must be one of ${values.join(", ")}; got "${value}"`, 2);
  }
  return value;
}

function printRepo(print: (line: string) => void, repo: RepoView): void {
  const rows: [string, string][] = [
    ["id", repo.id],
    ["url", repo.url],
    ["base branch", repo.baseBranch],
    ["token ref", repo.tokenRef],
    ["webhook secret ref", repo.webhookSecretRef ?? "-"],
    ["auto-merge", repo.autoMerge ? `yes (${repo.mergeMethod})` : `no (method ${repo.mergeMethod})`],
    ["follow-ups", repo.followUps],
    ["created", shortTime(repo.createdAt)],
  ];
  const observation = repo.observation;
  if (observation) {
    const reason = observation.healthReason ? `: ${observation.healthReason}` : "";
    rows.push([
      "observer",
      `${observation.health}${reason} (last poll ${shortTime(observation.lastPolledAt)})`,
    ]);
    const hook = observation.webhook;
    rows.push([
      "webhook",
      hook.hookId === null && hook.lastDeliveryAt === null
        ? "none (polling every interval)"
        : `${hook.healthy ? "healthy" : "not trusted (polling every interval)"}, last delivery ${shortTime(hook.lastDeliveryAt)}`,
    ]);
  }
  print(repo.name);
  for (const [key, value] of rows) print(`  ${key.padEnd(19)} ${value}`);
}

/** `shepherd repo add|ls|show|set|check|webhook|rm` (SPEC C2, C4). */
export function registerRepo(program: Command): void {
  const repo = program.command("repo").description("register repositories and their tokens");

  repo
    .command("add <name> <url>")
    .description(
      "register a repository (its web URL, e.g. https://github.com/acme/search-config) with its own token ref",
    )
    .requiredOption("--token-ref <ref>", "where its token is: file:<name> (in <home>/secrets/) or env:<VAR>")
    .option("--base <branch>", "branch PRs target", "main")
    .option("--webhook-secret-ref <ref>", "where its webhook secret is")
    .option("--auto-merge", "allow auto-merge of approved, green PRs")
    .option("--merge-method <method>", `${MERGE_METHODS.join(" | ")}`, "squash")
    .option("--follow-ups <mode>", `${FOLLOW_UP_MODES.join(" | ")}`, "approve")
    .action(
      async (
        name: string,
        url: string,
        options: Record<string, string | boolean | undefined>,
        command: Command,
      ) => {
        const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
        const created = await client.post<RepoView>("/api/v1/repos", {
          name,
          url,
          baseBranch: options.base,
          tokenRef: options.tokenRef,
          ...(options.webhookSecretRef ? { webhookSecretRef: options.webhookSecretRef } : {}),
          autoMerge: Boolean(options.autoMerge),
          mergeMethod: oneOf(MERGE_METHODS, "--merge-method", options.mergeMethod as string),
          followUps: oneOf(FOLLOW_UP_MODES, "--follow-ups", options.followUps as string),
        });
        if (output.json) output.printJson(created);
        else
          output.print(
            `Registered ${created.name} (${created.url}, base ${created.baseBranch}) as ${created.id}.`,
          );
      },
    );

  repo
    .command("ls")
    .description("list repositories")
    .action(async (_options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const repos = await fetchAllPages<RepoView>(client, "/api/v1/repos");
      if (output.json) {
        output.printJson(repos);
        return;
      }
      output.table(
        ["NAME", "URL", "BASE", "TOKEN REF", "AUTO-MERGE", "ID"],
        repos.map((r) => [r.name, r.url, r.baseBranch, r.tokenRef, r.autoMerge ? r.mergeMethod : "no", r.id]),
      );
    });

  repo
    .command("show <name>")
    .description("show a repository")
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const found = await client.get<RepoView>(`/api/v1/repos/${encodeURIComponent(name)}`);
      if (output.json) output.printJson(found);
      else printRepo((line) => output.print(line), found);
    });

  repo
    .command("set <name>")
    .description("change a repository's settings (e.g. a rotated token ref)")
    .option("--token-ref <ref>", "new token ref")
    .option("--base <branch>", "new base branch")
    .option("--webhook-secret-ref <ref>", "new webhook secret ref")
    .option("--auto-merge <yes|no>", "allow auto-merge")
    .option("--merge-method <method>", `${MERGE_METHODS.join(" | ")}`)
    .option("--follow-ups <mode>", `${FOLLOW_UP_MODES.join(" | ")}`)
    .action(async (name: string, options: Record<string, string | undefined>, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const autoMerge = options.autoMerge;
      if (autoMerge !== undefined && !["yes", "no"].includes(autoMerge)) {
        throw new CliError(`--auto-merge takes yes or no; got "${autoMerge}"`, 2);
      }
      const patch = {
        ...(options.tokenRef ? { tokenRef: options.tokenRef } : {}),
        ...(options.base ? { baseBranch: options.base } : {}),
        ...(options.webhookSecretRef ? { webhookSecretRef: options.webhookSecretRef } : {}),
        ...(autoMerge ? { autoMerge: autoMerge === "yes" } : {}),
        ...(options.mergeMethod
          ? { mergeMethod: oneOf(MERGE_METHODS, "--merge-method", options.mergeMethod) }
          : {}),
        ...(options.followUps
          ? { followUps: oneOf(FOLLOW_UP_MODES, "--follow-ups", options.followUps) }
          : {}),
      };
      if (Object.keys(patch).length === 0)
        throw new CliError("nothing to change: pass at least one option", 2);
      const updated = await client.request<RepoView>(
        "PATCH",
        `/api/v1/repos/${encodeURIComponent(name)}`,
        patch,
      );
      if (output.json) output.printJson(updated);
      else output.print(`Updated ${updated.name}.`);
    });

  repo
    .command("check <name>")
    .description("ask GitHub what the repository's token may do")
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const check = await client.post<RepoCheckView>(
        `/api/v1/repos/${encodeURIComponent(name)}/check`,
        undefined,
      );
      if (output.json) {
        output.printJson(check);
      } else {
        output.print(`${check.repository} with ${check.tokenRef}: ${check.ok ? "OK" : "PROBLEMS"}`);
        if (check.access) {
          output.print(
            `  push ${check.access.push ? "yes" : "no"}, admin ${check.access.admin ? "yes" : "no"}, default branch ${check.access.defaultBranch}` +
              (check.access.scopes ? `, scopes ${check.access.scopes.join(" ") || "(none)"}` : ""),
          );
        }
        if (check.rateLimit)
          output.print(`  rate limit ${check.rateLimit.remaining}/${check.rateLimit.limit} left`);
        for (const problem of check.problems) output.print(`  - ${problem}`);
      }
      if (!check.ok) throw new CliError(`the token of ${name} is not ready for PR work (see above)`);
    });

  repo
    .command("webhook <name>")
    .description(
      "create the repository's GitHub webhook to this server (needs server.publicUrl and a webhook secret ref)",
    )
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const hook = await client.post<RepoWebhookView>(
        `/api/v1/repos/${encodeURIComponent(name)}/webhook`,
        undefined,
      );
      if (output.json) {
        output.printJson(hook);
        return;
      }
      output.print(
        hook.created
          ? `Created webhook ${hook.hookId} on ${hook.repository}: GitHub delivers to ${hook.url}`
          : `Webhook ${hook.hookId} on ${hook.repository} already delivers to ${hook.url}; nothing created`,
      );
      if (!hook.active)
        output.print("  note: the hook is inactive on GitHub; activate it in the repository settings");
    });

  repo
    .command("rm <name>")
    .description("remove a repository (its proposals keep their history)")
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const removed = await client.delete<RepoView>(`/api/v1/repos/${encodeURIComponent(name)}`);
      if (output.json) output.printJson(removed);
      else output.print(`Removed ${removed.name}.`);
    });
}
