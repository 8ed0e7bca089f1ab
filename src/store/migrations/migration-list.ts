import type { Migration } from "kysely/migration";
import type { Dialect } from "../database.js";
import { foundationMigration } from "./0001-foundation.js";
import { reposAndProposalsMigration } from "./0002-repos-and-proposals.js";
import { observationMigration } from "./0003-observation.js";
import { agentsMigration } from "./0004-agents.js";

/** Every migration, in order. Names sort lexically; never rename or edit one that has shipped. */
export function migrationList(dialect: Dialect): Record<string, Migration> {
  return {
    "0001-foundation": foundationMigration(dialect),
    "0002-repos-and-proposals": reposAndProposalsMigration(),
    "0003-observation": observationMigration(),
    "0004-agents": agentsMigration(dialect),
  };
}
