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
  deferred_since: number | null;
}

export interface ReposTable {
  id: string;
  name: string;
  owner: string;
  repo: string;
  base_branch: string;
  token_ref: string;
  webhook_secret_ref: string | null;
  auto_merge: number;
  merge_method: string;
  follow_ups: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  version: number;
}

export interface ProposalsTable {
  id: string;
  repo_id: string;
  session_id: string | null;
  title: string;
  kind: string;
  change: string;
  evidence: string | null;
  status: string;
  rejected_reason: string | null;
  pr_open_error: string | null;
  branch: string | null;
  pr_number: number | null;
  pr_url: string | null;
  pr_node_id: string | null;
  open_job_id: string | null;
  open_requested_at: number | null;
  opened_at: number | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  version: number;
}

export interface Schema {
  tokens: TokensTable;
  events: EventsTable;
  event_counter: EventCounterTable;
  jobs: JobsTable;
  repos: ReposTable;
  proposals: ProposalsTable;
}
