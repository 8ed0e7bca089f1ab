import { EVENT_PAYLOAD_MAX_BYTES } from "../domain/event-kinds.js";
import type { SecretRedactor } from "../domain/redact.js";
import type { StoredEvent } from "../store/event-store.js";

/** How an event looks on the wire (API lists, SSE `data:`, WebSocket messages). */
export interface EventView {
  seq: number;
  kind: string;
  sessionId: string | null;
  ts: string;
  payload: unknown;
}

export function eventView(event: StoredEvent): EventView {
  return {
    seq: event.seq,
    kind: event.kind,
    sessionId: event.sessionId,
    ts: new Date(event.ts).toISOString(),
    payload: JSON.parse(event.payloadJson) as unknown,
  };
}

/**
 * The same envelope as JSON text, built around the stored payload text without re-parsing it:
 * a stream serializes each event once, whatever the number of clients.
 */
export function eventEnvelopeJson(event: StoredEvent): string {
  return (
    `{"seq":${event.seq},"kind":${JSON.stringify(event.kind)},"sessionId":${JSON.stringify(event.sessionId)},` +
    `"ts":${JSON.stringify(new Date(event.ts).toISOString())},"payload":${event.payloadJson}}`
  );
}

const STRING_CAP = 1024;

function truncateStrings(value: unknown): unknown {
  if (typeof value === "string") {
    if (value.length <= STRING_CAP) return value;
    return `${value.slice(0, STRING_CAP)}…[truncated ${value.length - STRING_CAP} chars]`;
  }
  if (Array.isArray(value)) return value.map(truncateStrings);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, truncateStrings(item)]));
  }
  return value;
}

/**
 * Serializes a payload for the log: secrets redacted, at most EVENT_PAYLOAD_MAX_BYTES. A payload
 * over the cap first has its long strings shortened; if that is not enough it is replaced by a
 * marker with a preview. Either way `_truncated` says so.
 */
export function encodePayload(payload: Record<string, unknown>, redactor: SecretRedactor): string {
  const redacted = redactor.redactDeep(payload);
  const json = JSON.stringify(redacted);
  const bytes = Buffer.byteLength(json);
  if (bytes <= EVENT_PAYLOAD_MAX_BYTES) return json;
  const shortened = JSON.stringify({
    ...(truncateStrings(redacted) as Record<string, unknown>),
    _truncated: { originalBytes: bytes },
  });
  if (Buffer.byteLength(shortened) <= EVENT_PAYLOAD_MAX_BYTES) return shortened;
  const preview = json.slice(0, EVENT_PAYLOAD_MAX_BYTES / 2);
  return JSON.stringify({ _truncated: { originalBytes: bytes }, preview });
}
