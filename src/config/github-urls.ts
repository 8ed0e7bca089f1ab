/**
 * Derives GitHub's API, GraphQL and git remote URLs from the web URL exactly as GitHub does
 * (SPEC C1): github.com → api.github.com; any other base B (Enterprise Server or the local
 * simulator) → B/api/v3 and B/api/graphql. Plain http is accepted only for loopback hosts.
 */
export interface GitHubUrls {
  webUrl: string;
  apiUrl: string;
  graphqlUrl: string;
  isGitHubDotCom: boolean;
}

export class GitHubUrlError extends Error {
  override name = "GitHubUrlError";
}

const DOT_COM_HOSTS = new Set(["github.com", "www.github.com"]);

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  return /^127(\.\d{1,3}){3}$/.test(host);
}

export function deriveGitHubUrls(input: string): GitHubUrls {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new GitHubUrlError(
      `"${input}" is not a URL; expected e.g. https://github.com or https://ghe.example.com`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new GitHubUrlError(`unsupported scheme "${url.protocol}"; use https://`);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new GitHubUrlError(`plain http:// is accepted only for loopback hosts; use https://${url.host}`);
  }
  if (url.username || url.password) {
    throw new GitHubUrlError("the GitHub URL must not carry credentials; configure a token ref instead");
  }
  if (url.search || url.hash) {
    throw new GitHubUrlError("the GitHub URL must not have a query string or fragment");
  }
  const path = url.pathname.replace(/\/+$/, "");
  const host = url.host.toLowerCase();
  if (DOT_COM_HOSTS.has(host)) {
    if (path !== "") throw new GitHubUrlError("use https://github.com without a path");
    return {
      webUrl: "https://github.com",
      apiUrl: "https://api.github.com",
      graphqlUrl: "https://api.github.com/graphql",
      isGitHubDotCom: true,
    };
  }
  const base = `${url.protocol}//${host}${path}`;
  return { webUrl: base, apiUrl: `${base}/api/v3`, graphqlUrl: `${base}/api/graphql`, isGitHubDotCom: false };
}

/** The git remote of a repository: `<web>/<owner>/<repo>.git`. */
export function gitRemoteUrl(urls: GitHubUrls, owner: string, repo: string): string {
  return `${urls.webUrl}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}.git`;
}
