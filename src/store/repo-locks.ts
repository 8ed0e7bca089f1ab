/**
 * One PR operation per repository at a time (SPEC C3 step 3). `tryAcquire` never waits: a busy
 * repo is the caller's cue to defer its job instead of holding a worker.
 */
export interface RepoLock {
  release(): Promise<void>;
}

export interface RepoLocks {
  tryAcquire(repoId: string): Promise<RepoLock | null>;
  close(): Promise<void>;
}

/** Embedded mode: every worker is in this process, so an in-memory set is the whole truth. */
export class InProcessRepoLocks implements RepoLocks {
  readonly #held = new Set<string>();

  async tryAcquire(repoId: string): Promise<RepoLock | null> {
    if (this.#held.has(repoId)) return null;
    this.#held.add(repoId);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.#held.delete(repoId);
      },
    };
  }

  async close(): Promise<void> {
    this.#held.clear();
  }
}
