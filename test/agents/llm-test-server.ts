import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A scripted LLM HTTP endpoint on 127.0.0.1 for the provider tests: each request takes the next
 * queued reply and is recorded with its headers and parsed body. Strict like the project's other
 * HTTP doubles: a request with no reply queued is answered 599 and reported by `assertDone`, and
 * so are replies nobody asked for.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (the raw text when it is not JSON). */
  body: unknown;
}

export type Reply =
  /** A JSON answer. */
  | { status: number; json: unknown; headers?: Record<string, string> }
  /** Any body, as given. */
  | { status: number; text: string; contentType?: string; headers?: Record<string, string> }
  /** Never answers (the connection stays open until the server closes). */
  | { hang: true };

export class LlmTestServer {
  readonly requests: RecordedRequest[] = [];
  readonly #queue: Reply[] = [];
  readonly #unexpected: RecordedRequest[] = [];
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  readonly #hanging: ServerResponse[] = [];

  private constructor(
    readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<LlmTestServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const instance = new LlmTestServer(server, `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () =>
        instance.#handle(req.method ?? "", req.url ?? "", req.headers, Buffer.concat(chunks), res),
      );
    });
    return instance;
  }

  /** Queues replies, answered in order. */
  reply(...replies: Reply[]): void {
    this.#queue.push(...replies);
  }

  /** Resolves once `count` requests have arrived in total. */
  async waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return;
    await new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** Every queued reply was used and no request came without one. */
  assertDone(): void {
    if (this.#unexpected.length > 0) {
      throw new Error(
        `unexpected requests: ${this.#unexpected.map((request) => `${request.method} ${request.path}`).join(", ")}`,
      );
    }
    if (this.#queue.length > 0) throw new Error(`${this.#queue.length} queued replies were never requested`);
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #handle(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    raw: Buffer,
    res: ServerResponse,
  ): void {
    const text = raw.toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    const request: RecordedRequest = { method, path, headers, body };
    this.requests.push(request);
    for (const waiter of this.#waiters.filter((candidate) => this.requests.length >= candidate.count)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    const reply = this.#queue.shift();
    if (!reply) {
      this.#unexpected.push(request);
      res
        .writeHead(599, { "content-type": "application/json" })
        .end('{"error":{"message":"no reply queued"}}');
      return;
    }
    if ("hang" in reply) {
      this.#hanging.push(res);
      return;
    }
    if ("json" in reply) {
      res
        .writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
        .end(JSON.stringify(reply.json));
      return;
    }
    res
      .writeHead(reply.status, { "content-type": reply.contentType ?? "text/plain", ...reply.headers })
      .end(reply.text);
  }
}
