import { AppError } from "../domain/errors.js";
import type { PullRequestFilter, PullRequestRecord, PullRequestStore } from "../store/pull-request-store.js";
import type { RepoRecord, RepoStore } from "../store/repo-store.js";

/** Reading tracked pull requests (SPEC C4 `GET /api/v1/pull-requests`). */
export class PullRequestService {
  constructor(
    private readonly deps: {
      store: PullRequestStore;
      repos: RepoStore;
    },
  ) {}

  async get(id: string): Promise<PullRequestRecord> {
    const record = await this.deps.store.get(id);
    if (!record) throw new AppError("NOT_FOUND", `no pull request ${id}`);
    return record;
  }

  list(
    filter: PullRequestFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<PullRequestRecord[]> {
    return this.deps.store.list(filter, page);
  }

  count(filter: PullRequestFilter): Promise<number> {
    return this.deps.store.count(filter);
  }

  /** Repos of these PRs by id (also removed ones, whose PRs stay readable). */
  async reposOf(records: readonly PullRequestRecord[]): Promise<Map<string, RepoRecord>> {
    const repos = new Map<string, RepoRecord>();
    for (const repoId of new Set(records.map((record) => record.repoId))) {
      const repo = await this.deps.repos.getIncludingRemoved(repoId);
      if (repo) repos.set(repoId, repo);
    }
    return repos;
  }
}
