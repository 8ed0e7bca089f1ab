/** One request the simulator received (admin `/_sim/` calls excluded). */
export interface SimRequestRecord {
  method: string;
  /** Path without the query, e.g. `/api/v3/repos/acme/widgets/pulls`. */
  path: string;
  query: Record<string, string>;
  /** The status answered; 0 while no answer was sent (held, in flight, or dropped). */
  status: number;
  /** `github_pat_…abcd`: which token, without the secret; null when unauthenticated. */
  tokenHint: string | null;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  /** True when the answer was a rate-limit refusal (primary, secondary or an injected one). */
  rateLimited: boolean;
}

/** Bounded so a long benchmark cannot grow it without end; the oldest entries go first. */
const MAX_RECORDS = 200_000;

export class RequestLog {
  private records: SimRequestRecord[] = [];

  start(record: Omit<SimRequestRecord, "status" | "rateLimited">): SimRequestRecord {
    const entry: SimRequestRecord = { ...record, status: 0, rateLimited: false };
    this.records.push(entry);
    if (this.records.length > MAX_RECORDS) this.records.splice(0, this.records.length - MAX_RECORDS);
    return entry;
  }

  list(): SimRequestRecord[] {
    return this.records.map((record) => ({ ...record, query: { ...record.query } }));
  }

  clear(): void {
    this.records = [];
  }
}
