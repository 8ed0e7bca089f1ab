/** The simulator's public addresses, derived like GitHub Enterprise Server's from its web URL. */
export interface SimUrls {
  /** `http://127.0.0.1:<port>`: web pages, git remotes, raw files. */
  web: string;
  /** `<web>/api/v3`. */
  api: string;
  /** `host:port`, for the `git://` and `ssh` URL fields GitHub also reports. */
  host: string;
}

export function simUrls(web: string): SimUrls {
  return { web, api: `${web}/api/v3`, host: new URL(web).host };
}

/** GitHub Enterprise Server 3.19 documentation, where error bodies point. */
export const DOCS = "https://docs.github.com/enterprise-server@3.19";
