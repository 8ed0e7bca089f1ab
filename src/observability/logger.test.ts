import { describe, expect, it } from "vitest";
import { REDACTED, SecretRedactor } from "../domain/redact.js";
import { LogCapture } from "../../test/support/log-capture.js";
import { startTestServer } from "../../test/support/test-server.js";
import { createLogger } from "./logger.js";

const CANARIES = {
  fineGrainedPat: `github_pat_${"11ABCDEFG0123456789_abcdefghijklmnopqrstuv"}`,
  classicPat: `ghp_${"C".repeat(36)}`,
  appInstallation: `ghs_${"s1".repeat(18)}`,
  oauth: `gho_${"o".repeat(40)}`,
  userToServer: `ghu_${"u".repeat(36)}`,
  refresh: `ghr_${"r".repeat(36)}`,
  shepherd: `shp_${"Z".repeat(40)}`,
  /** A secret with no recognisable shape: redacted only because it is known. */
  known: "correct-horse-battery-staple-7",
} as const;

const ALL = Object.values(CANARIES);

function capturingLogger(): { log: ReturnType<typeof createLogger>; capture: LogCapture } {
  const redactor = new SecretRedactor();
  redactor.add(CANARIES.known);
  const capture = new LogCapture();
  return { log: createLogger({ level: "trace", redactor, destination: capture }), capture };
}

describe("log redaction", () => {
  it.each(Object.entries(CANARIES))(
    "never writes the %s canary, wherever it is put",
    async (_name, canary) => {
      const { log, capture } = capturingLogger();
      const error = new Error(`clone failed: https://x-access-token:${canary}@github.com/o/r.git`);
      const withStackOnly = new Error("opaque");
      withStackOnly.stack = `Error: opaque\n    at push (${canary})`;
      const cause = new Error("outer", { cause: new Error(`inner ${canary}`) });

      log.info(`message with ${canary}`);
      log.info("%s interpolated", canary);
      log.info({ token: canary }, "field");
      log.info({ nested: { deeper: [{ value: `Bearer ${canary}` }] } }, "nested");
      log.info({ [canary]: "in a key" }, "key");
      log.error({ err: error }, "error message");
      log.error({ err: withStackOnly }, "error stack");
      log.error({ err: cause }, "error cause");
      log.error(error);
      log.child({ binding: canary }).warn("child binding");
      log.child({}, { msgPrefix: `${canary} ` }).warn("prefix");
      log.info({ json: JSON.stringify({ auth: canary }) }, "json inside a string");
      log.flush();

      expect(capture.lines.length).toBe(12);
      for (const line of capture.lines) expect(line).not.toContain(canary);
      expect(capture.text).toContain(REDACTED);
      // Every line stays valid JSON after redaction.
      expect(() => capture.records()).not.toThrow();
    },
  );

  it("keeps ordinary text intact", () => {
    const { log, capture } = capturingLogger();
    log.info({ repo: "octo/demo", ghp: "short", sha: "a".repeat(40) }, "pushed ghp_abc branch");
    log.flush();
    const [record] = capture.records();
    expect(record).toMatchObject({
      repo: "octo/demo",
      ghp: "short",
      sha: "a".repeat(40),
      msg: "pushed ghp_abc branch",
    });
  });

  it("keeps canaries sent to the API out of the server log (query token, bad bearer, body)", async () => {
    const server = await startTestServer();
    try {
      for (const canary of ALL) {
        await server.app.inject({ method: "GET", url: `/api/v1/events?access_token=${canary}&limit=1` });
        await server.app.inject({
          method: "GET",
          url: "/api/v1/tokens",
          headers: { authorization: `Bearer ${canary}` },
        });
        await server.app.inject({
          method: "POST",
          url: "/api/v1/tokens",
          headers: { authorization: `Bearer ${server.adminToken}` },
          payload: { name: "x", role: "viewer", note: canary },
        });
      }
      server.running.logger.flush();
      expect(server.logs.lines.length).toBeGreaterThan(0);
      for (const canary of [...ALL.filter((c) => c !== CANARIES.known), server.adminToken]) {
        expect(server.logs.text).not.toContain(canary);
      }
    } finally {
      await server.stop();
    }
  });
});
