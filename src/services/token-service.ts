import { createHash, randomBytes } from "node:crypto";
import { chmod, open, readFile, rename, stat, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AppError } from "../domain/errors.js";
import type { SecretRedactor } from "../domain/redact.js";
import type { Principal, Role } from "../domain/roles.js";
import { newId } from "../store/ids.js";
import type { TokenRecord, TokenStore } from "../store/token-store.js";
import type { EventLog } from "./event-log.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_PREFIX = "shp_";
const TOKEN_BODY_LENGTH = 40;
const TOKEN_SHAPE = /^shp_[A-Za-z0-9]{40}$/;
/** Writing last_used_at on every request would make each read a write. */
const TOUCH_INTERVAL_MS = 60_000;

/** A new API token: `shp_` + 40 base62 characters (about 238 random bits). */
export function generateTokenSecret(): string {
  let body = "";
  while (body.length < TOKEN_BODY_LENGTH) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && body.length < TOKEN_BODY_LENGTH) body += BASE62[byte % 62];
    }
  }
  return TOKEN_PREFIX + body;
}

export function hashToken(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function tokenHint(secret: string): string {
  return `${TOKEN_PREFIX}…${secret.slice(-4)}`;
}

export interface CreateTokenInput {
  name: string;
  role: Role;
  sessionId?: string | null;
  expiresAt?: number | null;
  /** Token id of the creator; null for the bootstrap admin token. */
  createdBy: string | null;
}

export interface AdminTokenFile {
  path: string;
  /** True when a new token was written (first start, or the old one was not valid here). */
  created: boolean;
}

export class TokenService {
  readonly #lastTouched = new Map<string, number>();

  constructor(
    private readonly store: TokenStore,
    private readonly redactor: SecretRedactor,
    private readonly events: EventLog,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: CreateTokenInput): Promise<{ record: TokenRecord; secret: string }> {
    const sessionId = input.sessionId ?? null;
    if (input.role === "agent" && !sessionId) {
      throw new AppError(
        "VALIDATION_ERROR",
        "an agent token must name the session it belongs to (sessionId)",
        {
          details: { field: "sessionId" },
        },
      );
    }
    if (input.role !== "agent" && sessionId) {
      throw new AppError("VALIDATION_ERROR", "only agent tokens are bound to a session", {
        details: { field: "sessionId" },
      });
    }
    const now = this.now();
    if (input.expiresAt !== undefined && input.expiresAt !== null && input.expiresAt <= now) {
      throw new AppError("VALIDATION_ERROR", "expiresAt must be in the future", {
        details: { field: "expiresAt" },
      });
    }
    const secret = generateTokenSecret();
    this.redactor.add(secret);
    const record = await this.store.insert({
      id: newId("tok", now),
      name: input.name,
      role: input.role,
      sessionId,
      hint: tokenHint(secret),
      createdAt: now,
      createdBy: input.createdBy,
      expiresAt: input.expiresAt ?? null,
      tokenHash: hashToken(secret),
    });
    await this.events.append({
      kind: "token.created",
      sessionId,
      payload: { tokenId: record.id, name: record.name, role: record.role, createdBy: record.createdBy },
    });
    return { record, secret };
  }

  /** The principal behind a bearer token, or null when it is unknown, revoked or expired. */
  async authenticate(secret: string): Promise<Principal | null> {
    if (!TOKEN_SHAPE.test(secret)) return null;
    const now = this.now();
    const record = await this.store.findUsable(hashToken(secret), now);
    if (!record) return null;
    const last = this.#lastTouched.get(record.id) ?? 0;
    if (now - last >= TOUCH_INTERVAL_MS) {
      this.#lastTouched.set(record.id, now);
      await this.store.touch(record.id, now);
    }
    return { tokenId: record.id, name: record.name, role: record.role, sessionId: record.sessionId };
  }

  get(id: string): Promise<TokenRecord | null> {
    return this.store.get(id);
  }

  list(options: { before?: string | undefined; limit: number }): Promise<TokenRecord[]> {
    return this.store.list(options);
  }

  count(): Promise<number> {
    return this.store.count();
  }

  /** Revokes a token. Revoking an already revoked token changes nothing and is not an error. */
  async revoke(id: string, by: Principal): Promise<TokenRecord> {
    const revoked = await this.store.revoke(id, this.now());
    if (revoked) {
      await this.events.append({
        kind: "token.revoked",
        sessionId: revoked.sessionId,
        payload: { tokenId: revoked.id, name: revoked.name, role: revoked.role, revokedBy: by.tokenId },
      });
      return revoked;
    }
    const existing = await this.store.get(id);
    if (!existing) throw new AppError("TOKEN_NOT_FOUND", `no token with id ${id}`);
    return existing;
  }

  /**
   * Makes sure `<home>/admin.token` (mode 0600) holds a usable admin token for this database,
   * creating one on first start. The token is never printed; callers print the path.
   */
  async ensureAdminTokenFile(home: string): Promise<AdminTokenFile> {
    const file = path.join(home, "admin.token");
    const existing = await readFile(file, "utf8").then(
      (text) => text.trim(),
      (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return null;
        throw error;
      },
    );
    if (existing) {
      this.redactor.add(existing);
      const principal = await this.authenticate(existing);
      if (principal?.role === "admin") {
        const mode = (await stat(file)).mode & 0o777;
        if (mode !== 0o600) await chmod(file, 0o600);
        return { path: file, created: false };
      }
    }
    const { secret } = await this.create({ name: `admin@${os.hostname()}`, role: "admin", createdBy: null });
    await writeSecretFile(file, `${secret}\n`);
    return { path: file, created: true };
  }
}

/** Writes a 0600 file atomically: never a moment where it exists with looser permissions. */
async function writeSecretFile(file: string, content: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
