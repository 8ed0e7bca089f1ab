import type { SimUrls } from "./sim-urls.js";
import type { SimHook, SimRepo } from "./sim-state.js";

/** GitHub's `hook`; like GitHub, the secret is never returned, only masked. */
export function hookJson(repo: SimRepo, hook: SimHook, urls: SimUrls): Record<string, unknown> {
  const url = `${urls.api}/repos/${repo.fullName}/hooks/${hook.id}`;
  return {
    type: "Repository",
    id: hook.id,
    name: hook.name,
    active: hook.active,
    events: hook.events,
    config: {
      content_type: hook.config.contentType,
      insecure_ssl: hook.config.insecureSsl,
      url: hook.config.url,
      ...(hook.config.secret === null ? {} : { secret: "********" }),
    },
    updated_at: hook.updatedAt,
    created_at: hook.createdAt,
    url,
    test_url: `${url}/test`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: { code: null, status: "unused", message: null },
  };
}
