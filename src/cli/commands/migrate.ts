import type { Command } from "commander";
import { openDatabase, DatabaseUnavailableError } from "../../store/database.js";
import { migrateToLatest, MigrationError } from "../../store/migrate.js";
import { CliError } from "../cli-error.js";
import { loadCliConfig, type GlobalOptions } from "../cli-context.js";
import { createOutput } from "../output.js";

/** `shepherd migrate`: applies pending database migrations (the server also does so at start). */
export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("apply pending database migrations and exit")
    .action(async (_options: unknown, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      const output = createOutput(Boolean(globals.json));
      const config = await loadCliConfig(globals.config);
      const database = await openDatabase(config.database).catch((error: unknown) => {
        if (error instanceof DatabaseUnavailableError) throw new CliError(error.message);
        throw error;
      });
      try {
        const report = await migrateToLatest(database).catch((error: unknown) => {
          if (error instanceof MigrationError) throw new CliError(error.message);
          throw error;
        });
        if (output.json) {
          output.printJson({ database: database.description, ...report });
        } else if (report.applied.length === 0) {
          output.print(`${database.description}: up to date (${report.current ?? "no migrations"})`);
        } else {
          output.print(`${database.description}: applied ${report.applied.join(", ")}`);
        }
      } finally {
        await database.close();
      }
    });
}
