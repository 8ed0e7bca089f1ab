import { fullRepositoryJson } from "./repository-json.js";
import type { RestRoute } from "./rest-context.js";

export const repoRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo",
    scope: "repo",
    needs: [["metadata", "read"]],
    docs: "rest/repos/repos#get-a-repository",
    handle: ({ repo, sim, token }) => ({
      status: 200,
      body: fullRepositoryJson(repo, sim.urls, sim.state, token),
    }),
  },
];
