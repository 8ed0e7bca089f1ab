import { CliError } from "./cli-error.js";
import { readSse, type SseMessage } from "./sse-reader.js";

interface Envelope {
  error?: { code?: string; message?: string };
}

/** A small client of the Shepherd HTTP API that turns every failure into one clear CliError. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** GET that returns the status and body even when the status is not 2xx (e.g. /readyz). */
  async probe<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await this.#fetch(path, { method: "GET", headers: this.#headers() });
    return { status: response.status, body: (await response.json()) as T };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = this.#headers();
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await this.#fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw this.#failure(response.status, text);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** Opens an SSE stream; yields messages until the server ends it. */
  async *stream(
    path: string,
    lastEventId: string | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<SseMessage> {
    const headers = this.#headers();
    headers.accept = "text/event-stream";
    if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
    const response = await this.#fetch(path, { method: "GET", headers, signal });
    if (!response.ok || !response.body) throw this.#failure(response.status, await response.text());
    yield* readSse(response.body);
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, init);
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new CliError(
        `cannot reach Shepherd at ${this.baseUrl}: is \`shepherd serve\` running? (${causeOf(error)})`,
      );
    }
  }

  #failure(status: number, text: string): CliError {
    let envelope: Envelope | undefined;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      envelope = undefined;
    }
    const code = envelope?.error?.code;
    const message = envelope?.error?.message ?? `the server answered HTTP ${status}`;
    const hint = code === "UNAUTHENTICATED" ? " (set SHEPHERD_TOKEN or --token-file)" : "";
    return new CliError(code ? `${message} [${code}]${hint}` : message);
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
