import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

function encode(value: bigint, length: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(rest & 31n)] + out;
    rest >>= 5n;
  }
  return out;
}

/**
 * A new id `<prefix>_<26 chars>`: 48 bits of milliseconds then 80 random bits, so ids sort by
 * creation time (newest-first lists order by id) and never collide in practice.
 */
export function newId(prefix: string, now: number = Date.now()): string {
  const random = BigInt(`0x${randomBytes(10).toString("hex")}`);
  return `${prefix}_${encode(BigInt(now), 10)}${encode(random, 16)}`;
}
