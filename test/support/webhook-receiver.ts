import http from "node:http";

export interface ReceivedWebhook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON (null when it is not JSON). */
  json: unknown;
  at: number;
}

/** What to answer: a status, optionally a body, optionally after a delay. */
export interface Answer {
  status: number;
  body?: string;
  delayMs?: number;
}

/**
 * A real HTTP server on 127.0.0.1 (port 0) standing in for Slack and other webhook receivers.
 * Requests whose body mentions `scenario:<name>` get the answers scripted for that scenario, in
 * order (the last one repeats); everything else gets 200 "ok".
 */
export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  readonly #scripts = new Map<string, Answer[]>();
  readonly #server: http.Server;
  #port = 0;

  constructor() {
    this.#server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = null;
        }
        this.requests.push({ path: request.url ?? "", headers: request.headers, body, json, at: Date.now() });
        const scenario = /scenario:([A-Za-z0-9_-]+)/.exec(body)?.[1];
        const script = scenario === undefined ? undefined : this.#scripts.get(scenario);
        const answer = (script && script.length > 1 ? script.shift() : script?.[0]) ?? { status: 200 };
        const reply = (): void => {
          if (response.destroyed) return;
          response.writeHead(answer.status, { "content-type": "text/plain" });
          response.end(answer.body ?? (answer.status < 300 ? "ok" : "error"));
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    this.#port = address.port;
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Answers for requests mentioning `scenario:<name>`, in order; the last one repeats. */
  script(name: string, answers: Answer[]): void {
    this.#scripts.set(name, [...answers]);
  }

  /** The requests whose body mentions `scenario:<name>`. */
  requestsFor(name: string): ReceivedWebhook[] {
    return this.requests.filter((request) => request.body.includes(`scenario:${name}`));
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
