import { Command } from "commander";
import { VERSION } from "../version.js";
import { registerBackup } from "./commands/backup.js";
import { registerLogs } from "./commands/logs.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerNotifications } from "./commands/notifications.js";
import { registerPr } from "./commands/pr.js";
import { registerSession } from "./commands/session.js";
import { registerProposal } from "./commands/proposal.js";
import { registerRepo } from "./commands/repo.js";
import { registerServe } from "./commands/serve.js";
import { registerStatus } from "./commands/status.js";
import { registerToken } from "./commands/token.js";

/** The `shepherd` command line: a thin client of the HTTP API, plus `serve` and `migrate`. */
export function buildProgram(): Command {
  const program = new Command("shepherd")
    .description("Shepherd: a control plane for AI agents that change code through pull requests")
    .version(VERSION, "-V, --version")
    .option("--json", "machine-readable output")
    .option("--url <url>", "server URL (default: $SHEPHERD_URL, else the configured listen address)")
    .option(
      "--config <path>",
      "shepherd.yaml to use (default: $SHEPHERD_CONFIG, ./shepherd.yaml, <home>/shepherd.yaml)",
    )
    .option(
      "--token-file <path>",
      "file holding the API token (default: $SHEPHERD_TOKEN, else <home>/admin.token for a local server)",
    )
    // Usage errors are one line like every other error: `shepherd: <what> (see --help)`.
    .configureOutput({
      outputError: (text, write) =>
        write(
          `shepherd: ${text
            .replace(/^error:\s*/, "")
            .replace(/\s*\n\s*/g, " ")
            .trim()} (see --help)\n`,
        ),
    })
    .exitOverride();
  registerServe(program);
  registerMigrate(program);
  registerStatus(program);
  registerToken(program);
  registerLogs(program);
  registerBackup(program);
  registerRepo(program);
  registerProposal(program);
  registerPr(program);
  registerSession(program);
  registerNotifications(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}
