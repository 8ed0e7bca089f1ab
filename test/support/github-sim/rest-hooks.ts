import { githubTime } from "./ids.js";
import { invalidRequest, validationFailed } from "./error-json.js";
import { hookJson } from "./hook-json.js";
import { paginate } from "./pagination.js";
import {
  booleanField,
  notFound,
  numberParam,
  RestError,
  stringArrayField,
  type RepoRequest,
  type RestResult,
  type RestRoute,
} from "./rest-context.js";
import type { SimHook } from "./sim-state.js";

/** Repository webhooks: stored here, delivered by `webhook-delivery.ts` (a new hook is pinged). */

const DOCS = {
  list: "rest/repos/webhooks#list-repository-webhooks",
  create: "rest/repos/webhooks#create-a-repository-webhook",
  delete: "rest/repos/webhooks#delete-a-repository-webhook",
} as const;

function listHooks(request: RepoRequest): RestResult {
  const { repo, sim, query } = request;
  const page = paginate(repo.hooks, query, `${sim.urls.api}/repos/${repo.fullName}/hooks`);
  return {
    status: 200,
    body: page.items.map((hook) => hookJson(repo, hook, sim.urls)),
    headers: page.link === null ? {} : { link: page.link },
  };
}

function hookFailure(message: string): RestError {
  return new RestError({
    status: 422,
    body: validationFailed([{ resource: "Hook", code: "custom", message }], DOCS.create),
  });
}

function createHook(request: RepoRequest): RestResult {
  const { repo, sim, body } = request;
  const name = body.name ?? "web";
  if (name !== "web") throw hookFailure(`Name must be "web"`);
  const config = body.config;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new RestError({ status: 422, body: invalidRequest("config", config, "an object", DOCS.create) });
  }
  const {
    url,
    content_type: contentType = "form",
    secret,
    insecure_ssl: insecureSsl = "0",
  } = config as Record<string, unknown>;
  if (typeof url !== "string" || url === "") throw hookFailure("Config must contain URL.");
  if (!URL.canParse(url)) throw hookFailure("Config must contain a valid URL.");
  if (contentType !== "json" && contentType !== "form")
    throw hookFailure("Content type must be json or form.");
  if (secret !== undefined && typeof secret !== "string") throw hookFailure("Secret must be a string.");
  const ssl = String(insecureSsl);
  if (ssl !== "0" && ssl !== "1") throw hookFailure("insecure_ssl must be 0 or 1.");
  if (repo.hooks.some((hook) => hook.config.url === url))
    throw hookFailure("Hook already exists on this repository");
  const now = githubTime();
  const hook: SimHook = {
    id: sim.state.nextId(),
    name: "web",
    active: booleanField(body, "active", DOCS.create) ?? true,
    events: stringArrayField(body, "events", DOCS.create) ?? ["push"],
    config: {
      url,
      contentType,
      secret: secret === undefined || secret === "" ? null : secret,
      insecureSsl: ssl,
    },
    createdAt: now,
    updatedAt: now,
  };
  repo.hooks.push(hook);
  sim.state.emit({ kind: "ping", repo, hook, actor: request.user.login });
  return {
    status: 201,
    body: hookJson(repo, hook, sim.urls),
    headers: { location: `${sim.urls.api}/repos/${repo.fullName}/hooks/${hook.id}` },
  };
}

function deleteHook(request: RepoRequest): RestResult {
  const id = numberParam(request.params.hook_id, DOCS.delete);
  const index = request.repo.hooks.findIndex((hook) => hook.id === id);
  if (index === -1) throw notFound(DOCS.delete);
  request.repo.hooks.splice(index, 1);
  return { status: 204 };
}

export const hookRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/hooks",
    scope: "repo",
    needs: [["webhooks", "read"]],
    docs: DOCS.list,
    handle: listHooks,
  },
  {
    method: "POST",
    pattern: "/repos/:owner/:repo/hooks",
    scope: "repo",
    needs: [["webhooks", "write"]],
    docs: DOCS.create,
    handle: createHook,
  },
  {
    method: "DELETE",
    pattern: "/repos/:owner/:repo/hooks/:hook_id",
    scope: "repo",
    needs: [["webhooks", "write"]],
    docs: DOCS.delete,
    handle: deleteHook,
  },
];
