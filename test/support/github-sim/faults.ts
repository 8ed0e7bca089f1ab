import { randomUUID } from "node:crypto";

/**
 * Injected failures. A fault matches requests by method, path (a regular expression tested
 * against the path without its query, e.g. `/api/v3/repos/o/r/pulls$` or `git-receive-pack$`)
 * and token, affects the next `times` matching requests, then disappears. The first registered
 * fault that matches wins; a request is affected by at most one fault.
 */

export type FaultAction =
  /** Answer with this status (e.g. a 502 burst) without doing anything. */
  | { type: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  /** 429 with `retry-after` (seconds, default 60). */
  | { type: "rate-limit"; retryAfter?: number }
  /**
   * A secondary-limit 403 in one of the three shapes GitHub documents: with `retry-after`; with
   * `x-ratelimit-remaining: 0` and `x-ratelimit-reset`; or with only the message.
   */
  | {
      type: "secondary-limit";
      shape: "retry-after" | "reset" | "message";
      /** default 60 */ seconds?: number;
    }
  /** Wait, then handle the request normally. */
  | { type: "delay"; ms: number }
  /** Handle the request (its effect happens), then wait before answering. */
  | { type: "delay-after"; ms: number }
  /**
   * Handle the request, then withhold the answer until `releaseHeld()` (a release while the
   * request is still being handled lets the answer go as soon as it is ready).
   */
  | { type: "hold" }
  /** Destroy the connection without answering (and without doing anything). */
  | { type: "drop" };

export interface FaultMatch {
  method?: string;
  path?: string;
  token?: string;
}

export interface Fault {
  match?: FaultMatch;
  times: number;
  action: FaultAction;
}

interface ActiveFault {
  id: string;
  method: string | null;
  path: RegExp | null;
  token: string | null;
  remaining: number;
  action: FaultAction;
}

const ACTION_TYPES = new Set([
  "status",
  "rate-limit",
  "secondary-limit",
  "delay",
  "delay-after",
  "hold",
  "drop",
]);

/** Checks a fault given over HTTP (or by a test) before it is armed, so mistakes fail loudly. */
export function checkFault(input: unknown): Fault {
  if (typeof input !== "object" || input === null) throw new Error("a fault is an object");
  const fault = input as Partial<Fault>;
  if (!Number.isInteger(fault.times) || (fault.times ?? 0) < 1)
    throw new Error("times must be an integer ≥ 1");
  const action = fault.action as { type?: unknown } | undefined;
  if (!action || typeof action.type !== "string" || !ACTION_TYPES.has(action.type)) {
    throw new Error(`action.type must be one of ${[...ACTION_TYPES].join(", ")}`);
  }
  const typed = fault.action as FaultAction;
  if (
    typed.type === "status" &&
    !(Number.isInteger(typed.status) && typed.status >= 100 && typed.status <= 599)
  ) {
    throw new Error("a status fault needs a status between 100 and 599");
  }
  if ((typed.type === "delay" || typed.type === "delay-after") && !(typed.ms >= 0)) {
    throw new Error(`a ${typed.type} fault needs ms ≥ 0`);
  }
  if (typed.type === "secondary-limit" && !["retry-after", "reset", "message"].includes(typed.shape)) {
    throw new Error("a secondary-limit fault needs shape retry-after, reset or message");
  }
  if (fault.match?.path !== undefined) new RegExp(fault.match.path);
  return fault as Fault;
}

export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private held: (() => void)[] = [];

  add(input: Fault): string {
    const fault = checkFault(input);
    const id = randomUUID();
    this.faults.push({
      id,
      method: fault.match?.method?.toUpperCase() ?? null,
      path: fault.match?.path === undefined ? null : new RegExp(fault.match.path),
      token: fault.match?.token ?? null,
      remaining: fault.times,
      action: fault.action,
    });
    return id;
  }

  clear(): void {
    this.faults = [];
  }

  /** The action for this request, consuming one use of the fault, or null. */
  take(method: string, path: string, token: string | null): FaultAction | null {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.method === null || fault.method === method.toUpperCase()) &&
        (fault.path === null || fault.path.test(path)) &&
        (fault.token === null || fault.token === token),
    );
    const fault = this.faults[index];
    if (!fault) return null;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault.action;
  }

  /** Resolves at the next `releaseHeld()`. */
  hold(): Promise<void> {
    return new Promise((resolve) => this.held.push(resolve));
  }

  /** Lets every held answer go; returns how many there were. */
  releaseHeld(): number {
    const held = this.held;
    this.held = [];
    for (const release of held) release();
    return held.length;
  }
}
