import type { IncomingMessage, ServerResponse } from "node:http";
import { ADMIN_PREFIX, handleAdminRequest } from "./admin-http.js";
import { faultResponse } from "./fault-responses.js";
import type { FaultRegistry } from "./faults.js";
import { matchGitPath, type GitSmartHttp } from "./git-smart-http.js";
import type { GraphqlApi } from "./graphql-api.js";
import type { RequestLog, SimRequestRecord } from "./request-log.js";
import type { RestApi } from "./rest-api.js";
import type { SimContext } from "./rest-context.js";
import type { SimAdmin } from "./sim-admin.js";
import { jsonResponse, textResponse, type SimResponse } from "./sim-response.js";
import { tokenHint, tokenFromAuthorization } from "./tokens.js";
import { isWebFilePath, serveWebFile } from "./web-files.js";

/**
 * Every HTTP request's path through the simulator: log it, apply a matching fault, read the
 * body, route it (REST, git, raw files and logs, admin), compute the whole answer, then (faults
 * permitting) send it. Admin calls are neither logged nor subject to faults.
 */

const API_PREFIX = "/api/v3";
/** Where GitHub Enterprise Server serves GraphQL (Octokit derives it from the `/api/v3` base URL). */
const GRAPHQL_PATH = "/api/graphql";
/** Larger than any push a test makes, small enough to refuse a runaway client. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface PipelineDeps {
  sim: SimContext;
  rest: RestApi;
  graphql: GraphqlApi;
  git: GitSmartHttp;
  admin: SimAdmin;
  adminToken: string;
  faults: FaultRegistry;
  log: RequestLog;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.once("end", () => resolve(Buffer.concat(chunks)));
    request.once("error", reject);
    request.once("aborted", () => reject(new Error("aborted")));
  });
}

export class RequestPipeline {
  private stopping = false;
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly deps: PipelineDeps) {}

  readonly listener = (request: IncomingMessage, response: ServerResponse): void => {
    this.serve(request, response).catch((error: unknown) => {
      // Work cut short by stop() (its repositories are being deleted) is not worth a report.
      if (!this.stopping) process.stderr.write(`github-sim: ${(error as Error).stack ?? String(error)}\n`);
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        response.end(JSON.stringify({ message: "Server Error" }));
      }
    });
  };

  /** Wakes every delayed or held answer so the server can close. */
  stop(): void {
    this.stopping = true;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
    this.deps.faults.releaseHeld();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = (request.method ?? "GET").toUpperCase();
    const url = new URL(request.url ?? "/", "http://simulator.invalid");
    const path = url.pathname;

    if (path.startsWith(ADMIN_PREFIX)) {
      let body: Buffer;
      try {
        body = await readBody(request);
      } catch {
        return;
      }
      const answer = await handleAdminRequest(this.deps.admin, this.deps.adminToken, {
        method,
        path,
        headers: request.headers,
        body,
      });
      this.send(response, answer, null);
      return;
    }

    const token = tokenFromAuthorization(request.headers.authorization);
    const record = this.deps.log.start({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      tokenHint: tokenHint(token),
      at: Date.now(),
    });
    const fault = this.deps.faults.take(method, path, token);
    if (fault?.type === "drop") {
      request.socket.destroy();
      return;
    }
    if (fault?.type === "status" || fault?.type === "rate-limit" || fault?.type === "secondary-limit") {
      const { sim } = this.deps;
      const resource = path === GRAPHQL_PATH ? "graphql" : "core";
      this.send(
        response,
        faultResponse(fault, { token, limits: sim.limits, state: sim.state, resource }),
        record,
      );
      return;
    }

    // Registered on arrival, so a releaseHeld() that comes while the effect is still under way
    // (a test that saw the effect begin) lets the answer go as soon as it is ready.
    const held = fault?.type === "hold" ? this.deps.faults.hold() : null;
    let body: Buffer;
    try {
      body = await readBody(request);
    } catch {
      return;
    }
    if (fault?.type === "delay") await this.sleep(fault.ms);
    const answer = await this.route(method, url, request, body);
    if (fault?.type === "delay-after") await this.sleep(fault.ms);
    if (held && !this.stopping) await held;
    this.send(response, answer, record);
  }

  private async route(
    method: string,
    url: URL,
    request: IncomingMessage,
    body: Buffer,
  ): Promise<SimResponse> {
    const path = url.pathname;
    if (path === GRAPHQL_PATH) {
      return this.deps.graphql.handle({ method, headers: request.headers, body });
    }
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) {
      return this.deps.rest.handle({
        method,
        path: path.slice(API_PREFIX.length) || "/",
        query: url.searchParams,
        headers: request.headers,
        body,
      });
    }
    const git = matchGitPath(path);
    if (git) {
      return this.deps.git.handle({
        method,
        target: git,
        query: url.searchParams,
        headers: request.headers,
        body,
        remoteAddress: request.socket.remoteAddress ?? "127.0.0.1",
      });
    }
    if (method === "GET" && isWebFilePath(path)) {
      return serveWebFile(this.deps.sim, path, request.headers.authorization);
    }
    if (method === "GET" && path === "/") {
      return textResponse(200, `GitHub simulator. REST: ${this.deps.sim.urls.api}\n`);
    }
    return jsonResponse(404, { message: "Not Found" });
  }

  private send(response: ServerResponse, answer: SimResponse, record: SimRequestRecord | null): void {
    // A client that gave up (or was killed) while the answer was delayed or held: nothing to send.
    if (response.destroyed || response.socket?.destroyed) return;
    if (record) {
      record.status = answer.status;
      record.rateLimited = answer.rateLimited === true;
    }
    const body = answer.body ?? Buffer.alloc(0);
    response.writeHead(answer.status, { ...answer.headers, "content-length": String(body.length) });
    response.end(body);
  }
}
