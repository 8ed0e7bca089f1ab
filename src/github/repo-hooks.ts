import { toGitHubError, type GitHubClient } from "./github-client.js";

/** A repository webhook as GitHub reports it (its secret is never returned). */
export interface RepoHook {
  id: number;
  /** `config.url`: where GitHub delivers. */
  url: string | null;
  events: string[];
  active: boolean;
  contentType: string | null;
}

function toRepoHook(hook: {
  id: number;
  events?: string[];
  active?: boolean;
  config?: { url?: string; content_type?: string };
}): RepoHook {
  return {
    id: hook.id,
    url: hook.config?.url ?? null,
    events: hook.events ?? [],
    active: hook.active ?? true,
    contentType: hook.config?.content_type ?? null,
  };
}

/** `GET /repos/{o}/{r}/hooks`, every page (needs Webhooks: read). */
export async function listRepoHooks(client: GitHubClient, owner: string, repo: string): Promise<RepoHook[]> {
  try {
    const hooks = await client.octokit.paginate(client.octokit.rest.repos.listWebhooks, {
      owner,
      repo,
      per_page: 100,
    });
    return hooks.map(toRepoHook);
  } catch (error) {
    throw toGitHubError(error, `GET /repos/${owner}/${repo}/hooks`);
  }
}

/**
 * `POST /repos/{o}/{r}/hooks` (needs Webhooks: read and write): an active JSON hook signed with
 * `secret`. GitHub refuses a second hook with the same URL (422), so a retried create cannot
 * leave two behind.
 */
export async function createRepoHook(
  client: GitHubClient,
  input: { owner: string; repo: string; url: string; secret: string; events: readonly string[] },
): Promise<RepoHook> {
  try {
    const response = await client.octokit.rest.repos.createWebhook({
      owner: input.owner,
      repo: input.repo,
      name: "web",
      active: true,
      events: [...input.events],
      config: { url: input.url, content_type: "json", secret: input.secret, insecure_ssl: "0" },
    });
    return toRepoHook(response.data);
  } catch (error) {
    throw toGitHubError(error, `POST /repos/${input.owner}/${input.repo}/hooks`);
  }
}
