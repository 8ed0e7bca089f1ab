/** What a queue reports as jobs move, for metrics and logs. Optional for every implementation. */
export interface QueueObserver {
  enqueued?(queue: string, deduplicated: boolean): void;
  finished?(
    queue: string,
    outcome: "completed" | "retrying" | "failed" | "released",
    durationMs: number,
  ): void;
  /** An error of the queue machinery itself (not of a job), e.g. a lost connection. */
  internalError?(error: unknown, context: string): void;
}
