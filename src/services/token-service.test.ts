import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/support/databases.js";
import { AppError } from "../domain/errors.js";
import { SecretRedactor } from "../domain/redact.js";
import type { Principal } from "../domain/roles.js";
import { LocalEventSignal } from "../store/event-signal.js";
import { EventStore } from "../store/event-store.js";
import { TokenStore } from "../store/token-store.js";
import { EventHub } from "./event-hub.js";
import { EventLog } from "./event-log.js";
import { generateTokenSecret, hashToken, TokenService } from "./token-service.js";

const TOKEN_SHAPE = /^shp_[A-Za-z0-9]{40}$/;
/** What `<home>/admin.token` may hold: the token and one newline, nothing else. */
const TOKEN_FILE_SHAPE = /^shp_[A-Za-z0-9]{40}\n$/;

describe("generateTokenSecret", () => {
  it("makes shp_ + 40 base62 characters", () => {
    for (let i = 0; i < 200; i++) expect(generateTokenSecret()).toMatch(TOKEN_SHAPE);
  });

  it("never repeats itself", () => {
    const secrets = new Set(Array.from({ length: 2000 }, () => generateTokenSecret()));
    expect(secrets.size).toBe(2000);
  });

  it("uses the whole alphabet (not a biased subset)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const char of generateTokenSecret().slice(4)) seen.add(char);
    expect(seen.size).toBe(62);
  });
});

describe("TokenService (SQLite)", () => {
  let database: TestDatabase;
  let store: TokenStore;
  let redactor: SecretRedactor;
  let events: EventLog;
  let hub: EventHub;
  let eventStore: EventStore;
  let clock: number;
  let service: TokenService;
  let home: string;

  beforeEach(async () => {
    database = await createTestDatabase("sqlite");
    const db = await database.open();
    store = new TokenStore(db.db);
    redactor = new SecretRedactor();
    eventStore = new EventStore(db);
    const signal = new LocalEventSignal();
    await signal.start();
    hub = new EventHub(eventStore, signal);
    await hub.start();
    events = new EventLog({ store: eventStore, signal, hub, redactor });
    clock = Date.parse("2026-01-01T00:00:00Z");
    service = new TokenService(store, redactor, events, () => clock);
    home = await mkdtemp(path.join(os.tmpdir(), "shepherd-token-home-"));
  });

  afterEach(async () => {
    hub.stop();
    await database.cleanup();
    await rm(home, { recursive: true, force: true });
  });

  const admin: Principal = { tokenId: "tok_test", name: "test", role: "admin", sessionId: null };

  describe("create", () => {
    it("stores only the hash and a hint, and records a token.created event", async () => {
      const { record, secret } = await service.create({ name: "ci", role: "operator", createdBy: null });
      expect(secret).toMatch(TOKEN_SHAPE);
      expect(record).toMatchObject({ name: "ci", role: "operator", sessionId: null, revokedAt: null });
      expect(record.hint).toBe(`shp_…${secret.slice(-4)}`);
      expect(JSON.stringify(record)).not.toContain(secret);
      expect(await store.findUsable(hashToken(secret), clock)).toMatchObject({ id: record.id });
      const [event] = await events.list({ kind: "token.created", limit: 10 });
      expect(JSON.parse(event?.payloadJson ?? "{}")).toMatchObject({ tokenId: record.id, role: "operator" });
      expect(event?.payloadJson).not.toContain(secret);
      // The new secret is known to the redactor from now on.
      expect(redactor.redact(`leaked ${secret}`)).not.toContain(secret);
    });

    it.each([
      ["an agent token without a session", { role: "agent" as const, sessionId: null }],
      ["a viewer token with a session", { role: "viewer" as const, sessionId: "sess-1" }],
      ["an expiry in the past", { role: "viewer" as const, expiresAt: Date.parse("2025-12-31T00:00:00Z") }],
      ["an expiry equal to now", { role: "viewer" as const, expiresAt: Date.parse("2026-01-01T00:00:00Z") }],
    ])("refuses %s with VALIDATION_ERROR and stores nothing", async (_name, input) => {
      const before = await store.count();
      const error: unknown = await service
        .create({ name: "x", createdBy: null, ...input })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe("VALIDATION_ERROR");
      expect(await store.count()).toBe(before);
    });
  });

  describe("authenticate", () => {
    it("returns the principal of a good token", async () => {
      const { record, secret } = await service.create({
        name: "bot",
        role: "agent",
        sessionId: "sess-9",
        createdBy: null,
      });
      expect(await service.authenticate(secret)).toEqual({
        tokenId: record.id,
        name: "bot",
        role: "agent",
        sessionId: "sess-9",
      });
      expect((await store.get(record.id))?.lastUsedAt).toBe(clock);
    });

    it("returns null for a revoked token", async () => {
      const { record, secret } = await service.create({ name: "r", role: "viewer", createdBy: null });
      await service.revoke(record.id, admin);
      expect(await service.authenticate(secret)).toBeNull();
    });

    it("returns null once the token has expired, and not before", async () => {
      const { secret } = await service.create({
        name: "e",
        role: "viewer",
        expiresAt: clock + 1000,
        createdBy: null,
      });
      clock += 999;
      expect(await service.authenticate(secret)).not.toBeNull();
      clock += 1;
      expect(await service.authenticate(secret)).toBeNull();
      clock += 60_000;
      expect(await service.authenticate(secret)).toBeNull();
    });

    it("returns null for a well-shaped token that was never issued", async () => {
      expect(await service.authenticate(generateTokenSecret())).toBeNull();
    });

    it.each([
      ["empty", ""],
      ["too short", "shp_abc"],
      ["one character too long", `${generateTokenSecret()}x`],
      ["a trailing newline", `${generateTokenSecret()}\n`],
      ["a leading space", ` ${generateTokenSecret()}`],
      ["the wrong prefix", `ghp_${"a".repeat(40)}`],
      ["an upper-case prefix", `SHP_${"a".repeat(40)}`],
      ["a non-base62 character", `shp_${"a".repeat(39)}-`],
      ["SQL", "' OR 1=1 --"],
    ])("returns null for a malformed token (%s) without touching the database", async (_name, secret) => {
      const touched: string[] = [];
      const throwingStore = new Proxy({} as TokenStore, {
        get(_target, property) {
          return () => {
            touched.push(String(property));
            throw new Error(`the store was asked for ${String(property)}`);
          };
        },
      });
      const offline = new TokenService(throwingStore, redactor, events, () => clock);
      expect(await offline.authenticate(secret)).toBeNull();
      expect(touched).toEqual([]);
    });

    it("does reach the store for a well-shaped token (the throwing store above would be noticed)", async () => {
      const throwingStore = new Proxy({} as TokenStore, {
        get(_target, property) {
          return () => {
            throw new Error(`the store was asked for ${String(property)}`);
          };
        },
      });
      const offline = new TokenService(throwingStore, redactor, events, () => clock);
      await expect(offline.authenticate(generateTokenSecret())).rejects.toThrow(/findUsable/);
    });
  });

  describe("revoke", () => {
    it("is idempotent and records one token.revoked event", async () => {
      const { record } = await service.create({ name: "r", role: "viewer", createdBy: null });
      const first = await service.revoke(record.id, admin);
      expect(first.revokedAt).toBe(clock);
      clock += 5000;
      const second = await service.revoke(record.id, admin);
      expect(second).toEqual(first);
      expect(await events.count({ kind: "token.revoked" })).toBe(1);
    });

    it("throws TOKEN_NOT_FOUND for an unknown id", async () => {
      const error: unknown = await service.revoke("tok_nope", admin).catch((e: unknown) => e);
      expect((error as AppError).code).toBe("TOKEN_NOT_FOUND");
    });
  });

  describe("ensureAdminTokenFile", () => {
    const fileIn = (dir: string): string => path.join(dir, "admin.token");
    const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;

    it("first call writes a valid admin token to <home>/admin.token with mode 0600", async () => {
      const result = await service.ensureAdminTokenFile(home);
      expect(result).toEqual({ path: fileIn(home), created: true });
      expect(await modeOf(result.path)).toBe(0o600);
      const content = await readFile(result.path, "utf8");
      expect(content).toMatch(TOKEN_FILE_SHAPE);
      const principal = await service.authenticate(content.trim());
      expect(principal?.role).toBe("admin");
      expect(principal?.sessionId).toBeNull();
      expect(await store.count()).toBe(1);
    });

    it("second call keeps the file as it is (created: false)", async () => {
      await service.ensureAdminTokenFile(home);
      const before = await readFile(fileIn(home), "utf8");
      const again = await service.ensureAdminTokenFile(home);
      expect(again).toEqual({ path: fileIn(home), created: false });
      expect(await readFile(fileIn(home), "utf8")).toBe(before);
      expect(await modeOf(fileIn(home))).toBe(0o600);
      expect(await store.count()).toBe(1);
    });

    it("replaces a revoked token with a new one and leaves the old one revoked", async () => {
      await service.ensureAdminTokenFile(home);
      const old = (await readFile(fileIn(home), "utf8")).trim();
      const oldId = (await service.authenticate(old))?.tokenId as string;
      await service.revoke(oldId, admin);

      const result = await service.ensureAdminTokenFile(home);
      expect(result.created).toBe(true);
      const content = await readFile(fileIn(home), "utf8");
      expect(content).toMatch(TOKEN_FILE_SHAPE);
      expect(content.trim()).not.toBe(old);
      expect((await service.authenticate(content.trim()))?.role).toBe("admin");
      expect(await modeOf(fileIn(home))).toBe(0o600);
      expect(await service.authenticate(old)).toBeNull();
      expect((await store.get(oldId))?.revokedAt).not.toBeNull();
    });

    it("replaces a token that is valid but not an admin token", async () => {
      const { secret } = await service.create({ name: "viewer", role: "viewer", createdBy: null });
      await writeFile(fileIn(home), `${secret}\n`, { mode: 0o600 });
      const result = await service.ensureAdminTokenFile(home);
      expect(result.created).toBe(true);
      const content = await readFile(fileIn(home), "utf8");
      expect(content).toMatch(TOKEN_FILE_SHAPE);
      expect((await service.authenticate(content.trim()))?.role).toBe("admin");
    });

    it("replaces a file that holds no token at all", async () => {
      await writeFile(fileIn(home), "hello\nworld\n", { mode: 0o600 });
      const result = await service.ensureAdminTokenFile(home);
      expect(result.created).toBe(true);
      expect(await readFile(fileIn(home), "utf8")).toMatch(TOKEN_FILE_SHAPE);
      expect(await modeOf(fileIn(home))).toBe(0o600);
    });

    it("tightens a 0644 file holding a valid admin token to 0600 without changing it", async () => {
      await service.ensureAdminTokenFile(home);
      const before = await readFile(fileIn(home), "utf8");
      await chmod(fileIn(home), 0o644);
      const result = await service.ensureAdminTokenFile(home);
      expect(result.created).toBe(false);
      expect(await modeOf(fileIn(home))).toBe(0o600);
      expect(await readFile(fileIn(home), "utf8")).toBe(before);
    });

    it("accepts the token without its trailing newline but never writes anything else", async () => {
      const { secret } = await service.create({ name: "hand-written", role: "admin", createdBy: null });
      await writeFile(fileIn(home), secret, { mode: 0o600 });
      expect((await service.ensureAdminTokenFile(home)).created).toBe(false);
      expect(await readFile(fileIn(home), "utf8")).toBe(secret);
    });

    it("leaves no temporary files behind", async () => {
      await service.ensureAdminTokenFile(home);
      await writeFile(fileIn(home), "garbage", { mode: 0o600 });
      await service.ensureAdminTokenFile(home);
      expect(await readdir(home)).toEqual(["admin.token"]);
    });

    it("registers the token with the redactor", async () => {
      await service.ensureAdminTokenFile(home);
      const secret = (await readFile(fileIn(home), "utf8")).trim();
      expect(redactor.redact(`Authorization: Bearer ${secret}`)).not.toContain(secret);
      // A fresh redactor learns it by reading the file on the next start.
      const fresh = new SecretRedactor();
      await new TokenService(store, fresh, events, () => clock).ensureAdminTokenFile(home);
      expect(fresh.knownCount).toBeGreaterThan(0);
      expect(fresh.redact(secret)).not.toContain(secret);
    });
  });
});
