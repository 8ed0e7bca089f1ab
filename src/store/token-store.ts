import type { Kysely, Selectable } from "kysely";
import type { Role } from "../domain/roles.js";
import type { Schema, TokensTable } from "./schema.js";

export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  sessionId: string | null;
  hint: string;
  createdAt: number;
  createdBy: string | null;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface NewToken extends Omit<TokenRecord, "lastUsedAt" | "revokedAt"> {
  tokenHash: string;
}

function toRecord(row: Selectable<TokensTable>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    sessionId: row.session_id,
    hint: row.hint,
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** API tokens. Only hashes are stored; the token itself is shown once, at creation. */
export class TokenStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async insert(token: NewToken): Promise<TokenRecord> {
    const row = await this.db
      .insertInto("tokens")
      .values({
        id: token.id,
        name: token.name,
        role: token.role,
        session_id: token.sessionId,
        token_hash: token.tokenHash,
        hint: token.hint,
        created_at: token.createdAt,
        created_by: token.createdBy,
        expires_at: token.expiresAt,
        last_used_at: null,
        revoked_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string): Promise<TokenRecord | null> {
    const row = await this.db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** The token with this hash if it is neither revoked nor expired at `now`. */
  async findUsable(tokenHash: string, now: number): Promise<TokenRecord | null> {
    const row = await this.db
      .selectFrom("tokens")
      .selectAll()
      .where("token_hash", "=", tokenHash)
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Newest first; `before` is the id of the last token of the previous page. */
  async list(options: { before?: string | undefined; limit: number }): Promise<TokenRecord[]> {
    let query = this.db.selectFrom("tokens").selectAll().orderBy("id", "desc").limit(options.limit);
    if (options.before !== undefined) query = query.where("id", "<", options.before);
    return (await query.execute()).map(toRecord);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom("tokens")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Revokes the token if it is not revoked yet (one conditional update). Returns the revoked
   * record, or null when it was already revoked or does not exist.
   */
  async revoke(id: string, now: number): Promise<TokenRecord | null> {
    const row = await this.db
      .updateTable("tokens")
      .set({ revoked_at: now })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async touch(id: string, now: number): Promise<void> {
    await this.db.updateTable("tokens").set({ last_used_at: now }).where("id", "=", id).execute();
  }
}
