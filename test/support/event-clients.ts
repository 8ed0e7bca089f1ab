import WebSocket from "ws";
import { readSse } from "../../src/cli/sse-reader.js";

export interface ReceivedEvent {
  seq: number;
  kind: string;
  sessionId: string | null;
  payload: unknown;
}

/** A tiny deterministic PRNG, so disconnect points are random-looking but repeatable. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Reads an SSE stream for at most `take` events, then disconnects abruptly.
 * Returns what it read; `ended` is true when the server ended the stream first.
 */
export async function readSseEvents(
  url: string,
  token: string,
  options: { lastEventId?: number; take: number; stopAfterIdleMs?: number },
): Promise<{ events: ReceivedEvent[]; ended: boolean }> {
  const controller = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "text/event-stream" };
  if (options.lastEventId !== undefined) headers["last-event-id"] = String(options.lastEventId);
  const response = await fetch(url, { headers, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`stream refused: HTTP ${response.status}`);
  const events: ReceivedEvent[] = [];
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (options.stopAfterIdleMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(), options.stopAfterIdleMs);
  };
  armIdle();
  try {
    for await (const message of readSse(response.body)) {
      const event = JSON.parse(message.data) as ReceivedEvent;
      if (String(event.seq) !== message.id || event.kind !== message.event) {
        throw new Error(`SSE framing mismatch: id ${message.id} event ${message.event} for ${message.data}`);
      }
      events.push(event);
      armIdle();
      if (events.length >= options.take) {
        controller.abort();
        return { events, ended: false };
      }
    }
    return { events, ended: true };
  } catch (error) {
    if (controller.signal.aborted) return { events, ended: false };
    throw error;
  } finally {
    clearTimeout(idle);
  }
}

/** Like readSseEvents, over the WebSocket endpoint (resume point given as `since`). */
export async function readWsEvents(
  url: string,
  token: string,
  options: { take: number; stopAfterIdleMs: number },
): Promise<{ events: ReceivedEvent[] }> {
  const socket = new WebSocket(url.replace(/^http/, "ws"), { headers: { authorization: `Bearer ${token}` } });
  const events: ReceivedEvent[] = [];
  return new Promise((resolve, reject) => {
    let idle = setTimeout(() => socket.terminate(), options.stopAfterIdleMs);
    socket.on("message", (data: Buffer) => {
      if (events.length >= options.take) return;
      events.push(JSON.parse(data.toString("utf8")) as ReceivedEvent);
      clearTimeout(idle);
      idle = setTimeout(() => socket.terminate(), options.stopAfterIdleMs);
      if (events.length >= options.take) {
        clearTimeout(idle);
        socket.terminate();
        resolve({ events });
      }
    });
    socket.on("unexpected-response", (_request, response) =>
      reject(new Error(`HTTP ${response.statusCode}`)),
    );
    socket.on("error", reject);
    socket.on("close", () => {
      clearTimeout(idle);
      resolve({ events });
    });
  });
}
