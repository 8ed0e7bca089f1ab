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

export interface SessionsTable {
  id: string;
  goal: string;
  repo_id: string | null;
  branch: string | null;
  /** JSON: `{skill}` or `{harness}`. */
  agent: string;
  run_state: string;
  pause_kind: string | null;
  paused_at: number | null;
  /** JSON of the terminal outcome, or null while the session is not finished. */
  outcome: string | null;
  last_activity_at: number | null;
  /** JSON of the session reactions' history (agent_stuck, agent_needs_input). */
  reactions: string;
  created_by: string | null;
  created_at: number;
  updated_at: number;
  version: number;
}

export interface SessionMessagesTable {
  id: string;
  session_id: string;
  kind: string;
  source: string;
  text: string;
  full_text: string | null;
  pr_id: string | null;
  dedup_key: string | null;
  created_at: number;
  consumed_at: number | null;
}

export interface PullRequestsTable {
  id: string;
  node_id: string;
  repo_id: string;
  number: number;
  url: string;
  title: string;
  author: string | null;
  head_ref: string;
  head_repo: string | null;
  head_sha: string;
  base_ref: string;
  state: string;
  draft: number;
  mergeable: string;
  merge_state_status: string | null;
  ci_state: string;
  review_decision: string | null;
  unresolved_threads: number;
  comments_count: number | null;
  gh_updated_at: string | null;
  session_id: string | null;
  proposal_id: string | null;
  /** JSON of the latest observation (checks, threads, reviews). */
  observation: string | null;
  observed_hash: string | null;
  reacted_hash: string | null;
  /** JSON of the reaction history (signatures delivered, attempts, escalations). */
  reactions: string;
  dirty_at: number | null;
  fetched_at: number | null;
  threads_fetched_at: number | null;
  created_at: number;
  updated_at: number;
  version: number;
}

export interface RepoObservationsTable {
  repo_id: string;
  health: string;
  health_reason: string | null;
  health_since: number | null;
  failed_token: string | null;
  last_polled_at: number | null;
  last_success_at: number | null;
  dirty_at: number | null;
  webhook_hook_id: number | null;
  webhook_last_delivery_at: number | null;
  webhook_missed_at: number | null;
  updated_at: number;
}

export interface WebhookDeliveriesTable {
  delivery_id: string;
  repo_id: string | null;
  event: string;
  action: string | null;
  received_at: number;
}

export interface NotificationsTable {
  id: string;
  dedup_key: string | null;
  kind: string;
  priority: string;
  title: string;
  body: string;
  repo_id: string | null;
  pr_id: string | null;
  session_id: string | null;
  created_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

export interface NotificationDeliveriesTable {
  id: string;
  notification_id: string;
  target: string;
  state: string;
  attempts: number;
  last_error: string | null;
  job_id: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

export interface Schema {
  tokens: TokensTable;
  events: EventsTable;
  event_counter: EventCounterTable;
  jobs: JobsTable;
  repos: ReposTable;
  proposals: ProposalsTable;
  sessions: SessionsTable;
  session_messages: SessionMessagesTable;
  pull_requests: PullRequestsTable;
  repo_observations: RepoObservationsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  notifications: NotificationsTable;
  notification_deliveries: NotificationDeliveriesTable;
}
