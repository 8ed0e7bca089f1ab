import { mkdir, mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { FaultRegistry } from "./faults.js";
import { GitSmartHttp } from "./git-smart-http.js";
import { GraphqlApi } from "./graphql-api.js";
import { PullOperations } from "./pull-operations.js";
import { RateLimits } from "./rate-limits.js";
import { RequestLog } from "./request-log.js";
import { RequestPipeline } from "./request-pipeline.js";
import { RestApi } from "./rest-api.js";
import type { SimContext } from "./rest-context.js";
import { generateAdminToken, SimAdmin } from "./sim-admin.js";
import { SimState } from "./sim-state.js";
import { simUrls } from "./sim-urls.js";
import { WebhookDispatcher, type WebhookOptions } from "./webhook-delivery.js";

/**
 * A GitHub Enterprise Server stand-in on `http://<host>:<port>`: REST at `/api/v3`, GraphQL at
 * `/api/graphql`, git smart HTTP at `/<owner>/<repo>.git`, raw files, outgoing webhooks, and an
 * admin API at `/_sim/`. See docs/github-simulator.md.
 */

export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** primary REST budget per token per hour */
  restLimit?: number;
  /** GraphQL points per token per hour */
  graphqlLimit?: number;
  /** content-creating requests per token per minute before a secondary-limit 403 */
  contentCreationPerMinute?: number;
  /** webhook delivery: retry pauses and the receiver's timeout */
  webhooks?: WebhookOptions;
}

export interface GitHubSimulator {
  baseUrl: string;
  adminToken: string;
  admin: SimAdmin;
  stop(): Promise<void>;
}

/**
 * What code built on top of the simulator in the same process (GraphQL, webhook delivery) may
 * reach: the state and its change events, the shared operations and the rate limits.
 */
export interface GitHubSimulatorInternals extends GitHubSimulator {
  context: SimContext;
  dataDir: string;
}

function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export async function startGitHubSimulator(
  options: SimulatorOptions = {},
): Promise<GitHubSimulatorInternals> {
  const host = options.host ?? "127.0.0.1";
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "github-sim-"));
  const reposRoot = path.join(dataDir, "repos");
  const gitHome = path.join(dataDir, "home");
  await mkdir(reposRoot, { recursive: true });
  await mkdir(gitHome, { recursive: true });

  let pipeline: RequestPipeline | null = null;
  const server = http.createServer((request, response) => {
    if (pipeline) pipeline.listener(request, response);
    else response.writeHead(503).end();
  });
  server.keepAliveTimeout = 5_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://${urlHost(host)}:${port}`;

  const state = new SimState();
  const context: SimContext = {
    state,
    pulls: new PullOperations(state),
    limits: new RateLimits({
      restLimit: options.restLimit ?? 5000,
      graphqlLimit: options.graphqlLimit ?? 5000,
      contentCreationPerMinute: options.contentCreationPerMinute ?? 80,
    }),
    urls: simUrls(baseUrl),
  };
  const faults = new FaultRegistry();
  const log = new RequestLog();
  const webhooks = new WebhookDispatcher(context, options.webhooks);
  const unsubscribe = state.onChange(webhooks.onChange);
  const adminToken = generateAdminToken();
  const admin = new SimAdmin({ ...context, faults, log, webhooks, reposRoot, gitHome });
  const git = new GitSmartHttp(context, reposRoot, gitHome);
  pipeline = new RequestPipeline({
    sim: context,
    rest: new RestApi(context),
    graphql: new GraphqlApi(context),
    git,
    admin,
    adminToken,
    faults,
    log,
  });

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      pipeline?.stop();
      unsubscribe();
      webhooks.stop();
      git.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopped;
  };

  return { baseUrl, adminToken, admin, stop, context, dataDir };
}
