import { once } from "node:events";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { AppError } from "../domain/errors.js";
import type { StreamedEvent } from "../services/event-hub.js";
import type { ApiContext } from "./api-context.js";

const HEARTBEAT_MS = 15_000;
const WS_HIGH_WATER_BYTES = 1024 * 1024;

export interface StreamStart {
  since: number | undefined;
  sessionId: string | undefined;
}

/** `Last-Event-ID` (an EventSource reconnecting) wins over `?since=`. */
export function resumePoint(request: FastifyRequest, since: number | undefined): number | undefined {
  const header = request.headers["last-event-id"];
  if (header === undefined) return since;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) {
    throw new AppError(
      "VALIDATION_ERROR",
      "Last-Event-ID must be the seq of an event (a non-negative integer)",
      {
        details: { issues: [{ path: "headers.last-event-id", message: "not a non-negative integer" }] },
      },
    );
  }
  return Number(value.trim());
}

function sseFrame(item: StreamedEvent): string {
  item.sse ??= `id: ${item.event.seq}\nevent: ${item.event.kind}\ndata: ${item.json}\n\n`;
  return item.sse;
}

/**
 * Serves an event stream as Server-Sent Events: `id:` is the seq, `event:` the kind, `data:` the
 * envelope. Without `since` or `Last-Event-ID` it starts at the current head (live only).
 */
export async function serveSse(
  ctx: ApiContext,
  request: FastifyRequest,
  reply: FastifyReply,
  start: StreamStart,
): Promise<void> {
  const since = start.since ?? (await ctx.events.head());
  const controller = new AbortController();
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    // The connection ends with the stream: a kept-alive socket would hold up shutdown, and an
    // SSE client reconnects with Last-Event-ID anyway.
    connection: "close",
    "x-accel-buffering": "no",
    "x-request-id": request.id,
  });
  response.write("retry: 2000\n: connected\n\n");
  response.on("close", () => controller.abort());
  const heartbeat = setInterval(() => response.write(": ping\n\n"), HEARTBEAT_MS);
  heartbeat.unref();
  ctx.metrics.streamClients.inc({ transport: "sse" });
  try {
    for await (const item of ctx.events.stream({
      since,
      sessionId: start.sessionId,
      signal: controller.signal,
    })) {
      if (!response.write(sseFrame(item))) {
        await once(response, "drain", { signal: controller.signal });
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) request.log.warn({ err: error }, "event stream ended with an error");
  } finally {
    clearInterval(heartbeat);
    ctx.metrics.streamClients.dec({ transport: "sse" });
    response.end();
  }
}

/** Serves an event stream over a WebSocket: one JSON envelope per message. */
export async function serveWebSocket(
  ctx: ApiContext,
  socket: WebSocket,
  request: FastifyRequest,
  start: StreamStart,
): Promise<void> {
  const controller = new AbortController();
  socket.on("close", () => controller.abort());
  socket.on("error", () => controller.abort());
  ctx.metrics.streamClients.inc({ transport: "websocket" });
  try {
    const since = start.since ?? (await ctx.events.head());
    for await (const item of ctx.events.stream({
      since,
      sessionId: start.sessionId,
      signal: controller.signal,
    })) {
      if (socket.readyState !== socket.OPEN) break;
      if (socket.bufferedAmount > WS_HIGH_WATER_BYTES) {
        // Wait for this frame to reach the kernel before queueing more.
        await new Promise<void>((resolve) => socket.send(item.json, () => resolve()));
      } else {
        socket.send(item.json);
      }
    }
    if (socket.readyState === socket.OPEN) socket.close(1001, "server shutting down");
  } catch (error) {
    if (!controller.signal.aborted) request.log.warn({ err: error }, "websocket stream ended with an error");
    if (socket.readyState === socket.OPEN) socket.close(1011, "internal error");
  } finally {
    ctx.metrics.streamClients.dec({ transport: "websocket" });
  }
}
