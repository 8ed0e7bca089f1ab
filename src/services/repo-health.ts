import type { RepoObservationStore } from "../store/repo-observation-store.js";
import type { RepoStore } from "../store/repo-store.js";
import type { RepoHealthEntry } from "./system-status.js";

/** Every live repo with the observer's view of its GitHub health (for `/readyz`). */
export function repoHealthReader(
  repos: RepoStore,
  observations: RepoObservationStore,
): () => Promise<RepoHealthEntry[]> {
  return async () => {
    const [live, states] = await Promise.all([repos.listLive(), observations.list()]);
    const byId = new Map(states.map((state) => [state.repoId, state]));
    return live.map((repo) => {
      const state = byId.get(repo.id);
      return {
        name: repo.name,
        health: state?.health ?? "unknown",
        since: state?.healthSince ? new Date(state.healthSince).toISOString() : null,
      };
    });
  };
}
