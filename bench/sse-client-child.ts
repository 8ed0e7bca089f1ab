/**
 * The SSE client fleet in a child process, driven over IPC by bench/sse-delivery.ts, so that the
 * server under test and its clients can run on different cores. Latencies use CLOCK_MONOTONIC
 * (process.hrtime), which is system-wide on Linux, so the parent's send times compare directly.
 * Run with `node --import tsx bench/sse-client-child.ts`.
 */
import { SseClientFleet, type FleetOptions } from "./sse-clients.js";

export type ChildCommand = { type: "connect"; options: FleetOptions } | { type: "finish"; timeoutMs: number };

export type ChildReply =
  | { type: "connected"; clients: number }
  | { type: "result"; result: ReturnType<SseClientFleet["result"]> }
  | { type: "error"; message: string };

/** Resolves once the message has been handed to the IPC channel (large results take a while). */
function reply(message: ChildReply): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

let fleet: SseClientFleet | null = null;

process.on("message", (message: ChildCommand) => {
  void (async () => {
    try {
      if (message.type === "connect") {
        fleet = new SseClientFleet(message.options);
        await fleet.connect();
        await reply({ type: "connected", clients: fleet.connected });
      } else if (fleet) {
        await fleet.waitForAll(message.timeoutMs);
        const result = fleet.result();
        fleet.close();
        await reply({ type: "result", result });
        process.disconnect();
      }
    } catch (error) {
      await reply({ type: "error", message: (error as Error).message });
      process.disconnect();
    }
  })();
});
