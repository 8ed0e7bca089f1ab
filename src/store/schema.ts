/**
 * Table types for Kysely. One schema for SQLite and PostgreSQL: timestamps are epoch
 * milliseconds (`bigint`), JSON is stored as text, ids are prefixed, time-sortable strings.
 */
export interface TokensTable {
  id: string;
  name: string;
  role: string;
  session_id: string | null;
  token_hash: string;
  /** A non-secret hint shown in listings: the prefix and the last four characters. */
  hint: string;
  created_at: number;
  created_by: string | null;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface EventsTable {
  seq: number;
  session_id: string | null;
  kind: string;
  payload: string;
  ts: number;
}

/** One row (id = 1) holding the last assigned event seq; its row lock orders appends. */
export interface EventCounterTable {
  id: number;
  last_seq: number;
}

export interface JobsTable {
  id: string;
  queue: string;
  payload: string;
  state: string;
  dedup_key: string | null;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface Schema {
  tokens: TokensTable;
  events: EventsTable;
  event_counter: EventCounterTable;
  jobs: JobsTable;
}
