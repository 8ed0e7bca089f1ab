import { spawn, type ChildProcess } from "node:child_process";
import type { IncomingHttpHeaders } from "node:http";
import path from "node:path";
import { gitEnvironment } from "./git-runner.js";
import type { SimContext } from "./rest-context.js";
import { textResponse, type SimResponse } from "./sim-response.js";
import { canAccessRepo, hasPermission, tokenFromAuthorization } from "./tokens.js";

/**
 * Git's smart HTTP protocol at `/<owner>/<repo>.git/…`, served by the real `git http-backend`
 * run as a CGI program, behind GitHub's token checks: read needs `contents: read`, push needs
 * `contents: write`. The CGI answer is collected whole before it is sent, so that faults can hold
 * it after the push has happened, and so that pull requests already follow a push when the
 * client sees it succeed.
 */

export interface GitTarget {
  owner: string;
  name: string;
  /** `/info/refs`, `/git-upload-pack` or `/git-receive-pack`. */
  endpoint: string;
}

const GIT_PATH = /^\/([^/]+)\/([^/]+)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/;

export function matchGitPath(urlPath: string): GitTarget | null {
  const match = GIT_PATH.exec(urlPath);
  if (!match?.[1] || !match[2] || !match[3]) return null;
  return { owner: decodeURIComponent(match[1]), name: decodeURIComponent(match[2]), endpoint: match[3] };
}

export interface GitRequest {
  method: string;
  target: GitTarget;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  remoteAddress: string;
}

function unauthorized(): SimResponse {
  return textResponse(
    401,
    "Invalid username or token. Password authentication is not supported for Git operations.\n",
    {
      "www-authenticate": 'Basic realm="GitHub"',
    },
  );
}

/** Splits a CGI answer into its status, headers and body. */
function parseCgi(output: Buffer): SimResponse {
  const crlf = output.indexOf("\r\n\r\n");
  const lf = output.indexOf("\n\n");
  const useCrlf = crlf !== -1 && (lf === -1 || crlf < lf);
  const end = useCrlf ? crlf : lf;
  if (end === -1) return textResponse(502, "git http-backend sent no headers\n");
  const headers: Record<string, string> = {};
  let status = 200;
  for (const line of output.subarray(0, end).toString("latin1").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "status") status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers, body: output.subarray(end + (useCrlf ? 4 : 2)) };
}

export class GitSmartHttp {
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly sim: SimContext,
    /** The directory holding `<owner>/<name>.git`. */
    private readonly projectRoot: string,
    private readonly home: string,
  ) {}

  async handle(request: GitRequest): Promise<SimResponse> {
    const tokenValue = tokenFromAuthorization(request.headers.authorization);
    if (tokenValue === null) return unauthorized();
    const token = this.sim.state.tokens.get(tokenValue);
    if (!token || token.revoked) return unauthorized();
    const repo = this.sim.state.findRepo(request.target.owner, request.target.name);
    if (!repo || !canAccessRepo(token, repo)) return textResponse(404, "Repository not found.\n");

    const { endpoint } = request.target;
    const service = endpoint === "/info/refs" ? request.query.get("service") : endpoint.slice(1);
    if (service !== "git-upload-pack" && service !== "git-receive-pack") {
      return textResponse(404, "Only the smart HTTP protocol is served.\n");
    }
    const push = service === "git-receive-pack";
    if (!hasPermission(token, "contents", push ? "write" : "read")) {
      return textResponse(403, `Permission to ${repo.fullName}.git denied to ${token.login}.\n`);
    }

    const response = await this.runBackend(
      request,
      `/${repo.owner}/${repo.name}.git${endpoint}`,
      token.login,
    );
    if (push && request.method === "POST") await this.sim.pulls.syncHeads(repo, token.login);
    return response;
  }

  private async runBackend(request: GitRequest, pathInfo: string, login: string): Promise<SimResponse> {
    const header = (name: string): string => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(", ") : (value ?? "");
    };
    const env = gitEnvironment(this.home, {
      GIT_PROJECT_ROOT: path.resolve(this.projectRoot),
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: pathInfo,
      REQUEST_METHOD: request.method,
      QUERY_STRING: request.query.toString(),
      CONTENT_TYPE: header("content-type"),
      CONTENT_LENGTH: String(request.body.length),
      HTTP_CONTENT_ENCODING: header("content-encoding"),
      HTTP_GIT_PROTOCOL: header("git-protocol"),
      REMOTE_USER: login,
      REMOTE_ADDR: request.remoteAddress,
    });
    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.children.add(child);
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => (stderr += chunk));
    child.stdin.on("error", () => undefined);
    child.stdin.end(request.body);
    const code = await new Promise<number | null>((resolve) => {
      child.once("error", () => resolve(null));
      child.once("close", (exitCode) => resolve(exitCode));
    });
    this.children.delete(child);
    const output = Buffer.concat(stdout);
    if (output.length === 0) {
      return textResponse(500, `git http-backend failed (exit ${String(code)}): ${stderr.trim()}\n`);
    }
    return parseCgi(output);
  }

  /** Ends any backend still running (at shutdown). */
  stop(): void {
    for (const child of this.children) child.kill("SIGKILL");
    this.children.clear();
  }
}
