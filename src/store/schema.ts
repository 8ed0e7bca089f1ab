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
  /** A follow-up change to this PR id (`pr_…`): committed on its branch, no new PR. */
  follow_up_of: string | null;
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
  /** The skill pack a built-in agent session runs (also in `agent`), for filtering. */
  skill: string | null;
  /** JSON of the inputs the session was created with. */
  inputs: string | null;
  environment: string | null;
  /** The agent of the skill pack the session is at. */
  current_agent: string | null;
  retry_count: number | null;
  /** JSON `{code, message}` of the error that failed the session's last run. */
  last_error: string | null;
  last_confidence: number | null;
  /** When the session last entered the queue (the cap on running sessions): FIFO order. */
  queued_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  announced_status: string | null;
}

export interface AgentRunsTable {
  id: string;
  session_id: string;
  agent: string;
  attempt: number;
  status: string;
  provider: string | null;
  model: string | null;
  /** JSON of the turn envelope the run ended with. */
  envelope: string | null;
  signal: string | null;
  confidence: number | null;
  input_tokens: number;
  output_tokens: number;
  /** JSON `{code, message}`. */
  error: string | null;
  started_at: number;
  ended_at: number | null;
}

export interface AgentMessagesTable {
  id: string;
  run_id: string;
  idx: number;
  session_id: string;
  role: string;
  /** JSON of the message as the LLM port takes it. */
  body: string;
  input_tokens: number | null;
  output_tokens: number | null;
  created_at: number;
}

export interface ToolCallsTable {
  id: string;
  session_id: string;
  run_id: string;
  llm_call_id: string;
  server: string;
  tool: string;
  /** JSON of the arguments the tool runs with (injected ones included). */
  args: string;
  risk: string | null;
  gate_action: string;
  gate_reason: string;
  confidence: number | null;
  status: string;
  /** JSON of the tool's result. */
  result: string | null;
  /** JSON `{code, message}`. */
  error: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  version: number;
}

export interface ApprovalsTable {
  id: string;
  session_id: string;
  tool_call_id: string;
  state: string;
  reason: string;
  requested_at: number;
  expires_at: number;
  decided_at: number | null;
  /** The token id of whoever decided; `system` for the watchdog. */
  decided_by: string | null;
  rationale: string | null;
  version: number;
}

export interface LessonsTable {
  id: string;
  source_session_id: string;
  extractor_version: number;
  skill: string | null;
  repo_id: string | null;
  outcome: string;
  summary: string;
  /** JSON. */
  signals: string;
  /** JSON `[{tool, status}]`. */
  tool_sequence: string;
  confidence_final: number | null;
  text: string;
  /** JSON array of numbers, when an embedding model is configured. */
  embedding: string | null;
  created_at: number;
  deleted_at: number | null;
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
  agent_runs: AgentRunsTable;
  agent_messages: AgentMessagesTable;
  tool_calls: ToolCallsTable;
  approvals: ApprovalsTable;
  lessons: LessonsTable;
  pull_requests: PullRequestsTable;
  repo_observations: RepoObservationsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  notifications: NotificationsTable;
  notification_deliveries: NotificationDeliveriesTable;
}
