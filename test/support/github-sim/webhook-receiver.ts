import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An HTTP server standing in for a webhook receiver in tests: records every delivery (path,
 * headers, raw body) and answers each path with what the test scripted (a status sequence, a
 * pause, or a hold until released), tracking how many requests per path were ever in flight at once.
 */

export interface ReceivedDelivery {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Script {
  statuses: number[];
  /** Answer after this many milliseconds (to widen the window in which overlap would show). */
  pauseMs: number;
  held: (() => void)[] | null;
}

export class WebhookReceiver {
  readonly received: ReceivedDelivery[] = [];
  private readonly scripts = new Map<string, Script>();
  private readonly active = new Map<string, number>();
  private readonly maxActive = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}`);
    server.on("request", (request, response) => receiver.handle(request, response));
    return receiver;
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  private script(path: string): Script {
    let script = this.scripts.get(path);
    if (!script) {
      script = { statuses: [], pauseMs: 0, held: null };
      this.scripts.set(path, script);
    }
    return script;
  }

  /** The next answers on `path`, in order (then 200). */
  answer(path: string, ...statuses: number[]): void {
    this.script(path).statuses.push(...statuses);
  }

  pause(path: string, ms: number): void {
    this.script(path).pauseMs = ms;
  }

  /** Holds every answer on `path` until `release(path)`. */
  hold(path: string): void {
    this.script(path).held = [];
  }

  release(path: string): void {
    const script = this.script(path);
    const held = script.held ?? [];
    script.held = null;
    for (const answer of held) answer();
  }

  /** The most requests on `path` that were ever open at the same time. */
  maxConcurrent(path: string): number {
    return this.maxActive.get(path) ?? 0;
  }

  deliveriesTo(path: string): ReceivedDelivery[] {
    return this.received.filter((delivery) => delivery.path === path);
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = request.url ?? "/";
    const open = (this.active.get(path) ?? 0) + 1;
    this.active.set(path, open);
    this.maxActive.set(path, Math.max(open, this.maxActive.get(path) ?? 0));
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => {
      this.received.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      const script = this.script(path);
      const status = script.statuses.shift() ?? 200;
      const answer = (): void => {
        this.active.set(path, (this.active.get(path) ?? 1) - 1);
        response.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "nope");
      };
      if (script.held) {
        script.held.push(answer);
      } else if (script.pauseMs > 0) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          answer();
        }, script.pauseMs);
        this.timers.add(timer);
      } else {
        answer();
      }
    });
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const path of this.scripts.keys()) this.release(path);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
