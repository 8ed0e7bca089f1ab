/**
 * The closed vocabulary of event kinds (SPEC C1 "Event log"). Appending any other kind is a
 * programming error and is refused where it happens.
 */
export const EVENT_KINDS = [
  "session.created",
  "session.status_changed",
  "agent.started",
  "agent.finished",
  "agent.turn",
  "tool.invoked",
  "gate.fired",
  "approval.requested",
  "approval.decided",
  "proposal.created",
  "proposal.status_changed",
  "pr.opened",
  "pr.follow_up_pushed",
  "pr.observed",
  "pr.state_changed",
  "reaction.fired",
  "reaction.escalated",
  "nudge.sent",
  "notification.sent",
  "notification.acknowledged",
  "lesson.extracted",
  "repo.health_changed",
  "webhook.received",
  "repo.created",
  "repo.updated",
  "repo.deleted",
  "token.created",
  "token.revoked",
  "error",
] as const;

export type EventKind = (typeof EVENT_KINDS)[number];

const KNOWN = new Set<string>(EVENT_KINDS);

export function isEventKind(value: string): value is EventKind {
  return KNOWN.has(value);
}

/** Largest serialized payload kept as is; larger payloads are replaced by a truncation marker. */
export const EVENT_PAYLOAD_MAX_BYTES = 16 * 1024;
