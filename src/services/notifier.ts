import type { Priority } from "../domain/reaction-config.js";

export interface NotificationRequest {
  /** A notification is created at most once per key (a reaction episode, a failed merge…). */
  dedupKey: string | null;
  /** What it is about: a reaction key (`ci_failed`, `reaction.escalated`…) or another source. */
  kind: string;
  priority: Priority;
  title: string;
  body: string;
  repoId?: string | null;
  prId?: string | null;
  sessionId?: string | null;
}

/**
 * The port through which Shepherd tells humans (SPEC C5 notifications): the dashboard inbox and
 * the webhook targets routed for the priority. Idempotent by dedup key.
 */
export interface Notifier {
  notify(request: NotificationRequest): Promise<{ id: string; created: boolean }>;
}
