import { access } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { backupSqlite } from "../../store/sqlite-backup.js";
import { CliError } from "../cli-error.js";
import { loadCliConfig, type GlobalOptions } from "../cli-context.js";
import { createOutput } from "../output.js";

/** `shepherd backup <file>`: an online, consistent copy of the embedded SQLite database. */
export function registerBackup(program: Command): void {
  program
    .command("backup <file>")
    .description("write a consistent copy of the SQLite database (safe while the server runs)")
    .option("--force", "overwrite <file> if it exists")
    .action(async (file: string, options: { force?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const output = createOutput(Boolean(globals.json));
      const config = await loadCliConfig(globals.config);
      if (config.database.kind !== "sqlite") {
        throw new CliError("backup copies the embedded SQLite database; for PostgreSQL use pg_dump");
      }
      const destination = path.resolve(file);
      if (destination === config.database.path)
        throw new CliError("the backup cannot overwrite the database itself");
      const exists = await access(destination).then(
        () => true,
        () => false,
      );
      if (exists && !options.force) throw new CliError(`${destination} exists; pass --force to overwrite it`);
      let result: { pages: number; bytes: number };
      try {
        result = await backupSqlite(config.database.path, destination);
      } catch (error) {
        throw new CliError(`backup of ${config.database.path} failed: ${(error as Error).message}`);
      }
      if (output.json) output.printJson({ source: config.database.path, destination, ...result });
      else output.print(`Backed up ${config.database.path} to ${destination} (${result.bytes} bytes).`);
    });
}
