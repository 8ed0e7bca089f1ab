import { randomBytes, randomInt } from "node:crypto";

/**
 * GitHub-shaped identifiers and timestamps. Node ids use GitHub's current format
 * (`<TYPE>_kwDO` + base64url of a packed id): clients must treat them as opaque, and so does
 * everything in the simulator except `nodeIdOf`.
 */

/** The node-id prefixes GitHub uses for the objects the simulator holds. */
export const NODE_PREFIX = {
  user: "U",
  bot: "BOT",
  organization: "O",
  repository: "R",
  pullRequest: "PR",
  issue: "I",
  issueComment: "IC",
  review: "PRR",
  reviewComment: "PRRC",
  reviewThread: "PRRT",
  checkRun: "CR",
  checkSuite: "CS",
  status: "SC",
  hook: "HK",
} as const;

export type NodeKind = keyof typeof NODE_PREFIX;

export function nodeIdOf(kind: NodeKind, id: number): string {
  const packed = Buffer.alloc(8);
  packed.writeBigUInt64BE(BigInt(id));
  // Leading zero bytes carry nothing; GitHub's ids are short too.
  let start = 0;
  while (start < 7 && packed[start] === 0) start++;
  return `${NODE_PREFIX[kind]}_kwDO${packed.subarray(start).toString("base64url")}`;
}

/** A commit's node id: derived from its sha, so the same commit always has the same id. */
export function commitNodeId(sha: string): string {
  return `C_kwDO${Buffer.from(sha.slice(0, 24), "hex").toString("base64url")}`;
}

/** A timestamp the way GitHub's REST API writes it: ISO 8601, UTC, no milliseconds. */
export function githubTime(ms: number = Date.now()): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** An `x-github-request-id` shaped like GitHub's (`CDE1:3F0A:12AB34:13CD56:65A1B2C3`). */
export function requestId(): string {
  const hex = (bytes: number): string => randomBytes(bytes).toString("hex").toUpperCase();
  return `${hex(2)}:${hex(2)}:${hex(3)}:${hex(3)}:${hex(4)}`;
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function randomAlphanumeric(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}
