/**
 * A fleet of SSE clients on raw `http.get` (no fetch: no pooling limits, no stream adapters in the
 * way). Each frame's `data:` is an event envelope whose payload carries `n` (the event's index)
 * and `sentAtMs` (the monotonic clock when it was appended); a client records receive − sent.
 */
import http from "node:http";
import { monotonicMs } from "./bench-support.js";

export interface FleetOptions {
  url: string;
  headers: Record<string, string>;
  clients: number;
  /** Events the run will send; latencies are kept per (client, event). */
  events: number;
  /** Connections opened at once while connecting (the listen backlog is finite). */
  connectConcurrency?: number;
}

export interface FleetResult {
  /** One latency (ms) per received (client, event); length = samples received. */
  latencies: number[];
  expected: number;
  missing: number;
  duplicates: number;
  /** Frames whose event index went backwards. */
  outOfOrder: number;
  errors: string[];
}

interface Envelope {
  payload?: { n?: unknown; sentAtMs?: unknown };
}

export class SseClientFleet {
  readonly #options: FleetOptions;
  readonly #agent: http.Agent;
  readonly #requests: http.ClientRequest[] = [];
  /** latency of (client c, event n) at c * events + n; NaN until received. */
  readonly #latency: Float64Array;
  #duplicates = 0;
  #outOfOrder = 0;
  #connected = 0;
  #received = 0;
  readonly #errors: string[] = [];
  #closing = false;
  #onProgress: (() => void) | null = null;

  constructor(options: FleetOptions) {
    this.#options = options;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: options.clients + 10 });
    this.#latency = new Float64Array(options.clients * options.events).fill(Number.NaN);
  }

  get connected(): number {
    return this.#connected;
  }

  get received(): number {
    return this.#received;
  }

  get errors(): readonly string[] {
    return this.#errors;
  }

  /** Opens every connection; resolves when each has received the server's first bytes. */
  async connect(timeoutMs = 60_000): Promise<void> {
    const concurrency = this.#options.connectConcurrency ?? 100;
    const deadline = monotonicMs() + timeoutMs;
    for (let start = 0; start < this.#options.clients; start += concurrency) {
      const end = Math.min(this.#options.clients, start + concurrency);
      const opening: Promise<void>[] = [];
      for (let client = start; client < end; client++) opening.push(this.#open(client));
      await Promise.all(opening);
      if (monotonicMs() > deadline) throw new Error(`connecting ${this.#options.clients} clients timed out`);
    }
  }

  #open(client: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = http.get(this.#options.url, { agent: this.#agent, headers: this.#options.headers });
      this.#requests.push(request);
      let settled = false;
      const fail = (error: Error): void => {
        if (!settled) {
          settled = true;
          reject(error);
        } else if (!this.#closing) {
          this.#errors.push(`client ${client}: ${error.message}`);
        }
      };
      request.on("error", fail);
      request.on("response", (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          fail(new Error(`client ${client}: HTTP ${response.statusCode}`));
          return;
        }
        response.setEncoding("utf8");
        let buffer = "";
        let lastN = -1;
        response.on("data", (chunk: string) => {
          const at = monotonicMs();
          if (!settled) {
            settled = true;
            this.#connected++;
            resolve();
          }
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            // Comments (": connected", ": ping") and `retry:` carry no data line.
            let dataAt = 0;
            if (!frame.startsWith("data: ")) {
              const line = frame.indexOf("\ndata: ");
              if (line < 0) continue;
              dataAt = line + 1;
            }
            const lineEnd = frame.indexOf("\n", dataAt);
            const data = frame.slice(dataAt + 6, lineEnd < 0 ? undefined : lineEnd);
            const payload = (JSON.parse(data) as Envelope).payload;
            const n = payload?.n;
            const sentAtMs = payload?.sentAtMs;
            // Negative n: a warm-up event, not measured.
            if (typeof n !== "number" || typeof sentAtMs !== "number" || n < 0) continue;
            if (n < lastN) this.#outOfOrder++;
            lastN = n;
            const slot = client * this.#options.events + n;
            if (!Number.isNaN(this.#latency[slot])) {
              this.#duplicates++;
              continue;
            }
            this.#latency[slot] = at - sentAtMs;
            this.#received++;
          }
          this.#onProgress?.();
        });
        response.on("end", () => {
          if (!this.#closing) this.#errors.push(`client ${client}: stream ended by the server`);
        });
      });
    });
  }

  /** Resolves when every (client, event) sample has arrived, or after `timeoutMs`. */
  async waitForAll(timeoutMs: number): Promise<void> {
    const expected = this.#options.clients * this.#options.events;
    if (this.#received >= expected) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#onProgress = () => {
        if (this.#received >= expected) {
          this.#onProgress = null;
          done();
        }
      };
    });
    this.#onProgress = null;
  }

  result(): FleetResult {
    const latencies: number[] = [];
    let missing = 0;
    for (const value of this.#latency) {
      if (Number.isNaN(value)) missing++;
      else latencies.push(value);
    }
    return {
      latencies,
      expected: this.#latency.length,
      missing,
      duplicates: this.#duplicates,
      outOfOrder: this.#outOfOrder,
      errors: [...this.#errors],
    };
  }

  close(): void {
    this.#closing = true;
    for (const request of this.#requests) request.destroy();
    this.#agent.destroy();
  }
}
