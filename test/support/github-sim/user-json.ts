import type { SimUrls } from "./sim-urls.js";
import type { SimUser } from "./sim-state.js";

/**
 * GitHub's `simple-user` (also the owner of repositories, authors of PRs and comments). A bot's
 * login (`name[bot]`) is URL-encoded in its API URLs and its page is the app's, as on GitHub.
 */
export function simpleUserJson(user: SimUser, urls: SimUrls): Record<string, unknown> {
  const api = `${urls.api}/users/${encodeURIComponent(user.login)}`;
  const html =
    user.type === "Bot"
      ? `${urls.web}/apps/${user.login.replace(/\[bot\]$/, "")}`
      : `${urls.web}/${user.login}`;
  return {
    login: user.login,
    id: user.id,
    node_id: user.nodeId,
    avatar_url: `${urls.web}/avatars/u/${user.id}`,
    gravatar_id: "",
    url: api,
    html_url: html,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: user.type,
    site_admin: false,
    user_view_type: "public",
  };
}

/** `GET /user` for the token's own account (`private-user`). */
export function privateUserJson(user: SimUser, urls: SimUrls): Record<string, unknown> {
  const simple = simpleUserJson(user, urls);
  return {
    ...simple,
    user_view_type: "private",
    name: user.login,
    company: null,
    blog: "",
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: user.createdAt.replace(/\.\d{3}Z$/, "Z"),
    updated_at: user.createdAt.replace(/\.\d{3}Z$/, "Z"),
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: false,
    plan: { name: "enterprise", space: 976562499, collaborators: 0, private_repos: 9999 },
  };
}
