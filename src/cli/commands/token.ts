import type { Command } from "commander";
import { parseDuration } from "../../domain/duration.js";
import { ROLES } from "../../domain/roles.js";
import { CliError } from "../cli-error.js";
import { apiClientFor, type GlobalOptions } from "../cli-context.js";
import { shortTime } from "../output.js";
import { fetchAllPages } from "../pages.js";

interface TokenView {
  id: string;
  name: string;
  role: string;
  sessionId: string | null;
  hint: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** `30d`, `12h`, `90m` → an ISO timestamp that far in the future. */
export function expiryFrom(duration: string, now: number = Date.now()): string {
  const ms = /^\d+[mhd]$/.test(duration.trim()) ? parseDuration(duration) : null;
  if (ms === null)
    throw new CliError(`--expires-in takes a duration like 90m, 12h or 30d; got "${duration}"`, 2);
  if (ms <= 0) throw new CliError("--expires-in must be more than zero", 2);
  return new Date(now + ms).toISOString();
}

function status(token: TokenView, now: number): string {
  if (token.revokedAt) return "revoked";
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return "expired";
  return "active";
}

/** `shepherd token create|ls|revoke` (admin). */
export function registerToken(program: Command): void {
  const token = program.command("token").description("manage API tokens (admin)");

  token
    .command("create <name>")
    .description("create a token; it is printed once and cannot be shown again")
    .requiredOption("--role <role>", `one of ${ROLES.join(", ")}`)
    .option("--session <id>", "the session an agent token belongs to (agent tokens only)")
    .option("--expires-in <duration>", "expire after e.g. 90m, 12h or 30d (default: never)")
    .action(
      async (
        name: string,
        options: { role: string; session?: string; expiresIn?: string },
        command: Command,
      ) => {
        if (!(ROLES as readonly string[]).includes(options.role)) {
          throw new CliError(`--role must be one of ${ROLES.join(", ")}; got "${options.role}"`, 2);
        }
        const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
        const created = await client.post<{ token: TokenView; secret: string }>("/api/v1/tokens", {
          name,
          role: options.role,
          ...(options.session ? { sessionId: options.session } : {}),
          ...(options.expiresIn ? { expiresAt: expiryFrom(options.expiresIn) } : {}),
        });
        if (output.json) {
          output.printJson(created);
          return;
        }
        output.print(`Created ${created.token.role} token ${created.token.id} (${created.token.name}).`);
        output.print("Copy it now; it is not shown again:");
        output.print("");
        output.print(created.secret);
      },
    );

  token
    .command("ls")
    .description("list tokens, newest first")
    .action(async (_options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const tokens = await fetchAllPages<TokenView>(client, "/api/v1/tokens");
      if (output.json) {
        output.printJson(tokens);
        return;
      }
      const now = Date.now();
      output.table(
        ["ID", "NAME", "ROLE", "SESSION", "HINT", "CREATED", "LAST USED", "EXPIRES", "STATUS"],
        tokens.map((t) => [
          t.id,
          t.name,
          t.role,
          t.sessionId ?? "-",
          t.hint,
          shortTime(t.createdAt),
          shortTime(t.lastUsedAt),
          shortTime(t.expiresAt),
          status(t, now),
        ]),
      );
    });

  token
    .command("revoke <id>")
    .description("revoke a token (it stops working at once)")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, output } = await apiClientFor(command.optsWithGlobals<GlobalOptions>());
      const revoked = await client.delete<TokenView>(`/api/v1/tokens/${encodeURIComponent(id)}`);
      if (output.json) output.printJson(revoked);
      else output.print(`Revoked ${revoked.id} (${revoked.name}, ${revoked.role}).`);
    });
}
