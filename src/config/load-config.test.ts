import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig, type ConfigIssue, type LoadConfigOptions } from "./load-config.js";

let root: string;
/** A working directory with nothing in it (no ./shepherd.yaml). */
let cwd: string;
/** Stands in for the user's home directory, so `~/.shepherd` never reaches the real one. */
let fakeUserHome: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "shepherd-load-config-"));
  cwd = path.join(root, "cwd");
  fakeUserHome = path.join(root, "user-home");
  await mkdir(cwd);
  await mkdir(fakeUserHome);
  vi.stubEnv("HOME", fakeUserHome);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(root, { recursive: true, force: true });
});

async function writeYaml(relative: string, text: string): Promise<string> {
  const file = path.join(root, relative);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function configFailure(options: LoadConfigOptions): Promise<ConfigError> {
  try {
    await loadConfig({ env: {}, cwd, ...options });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

function expectIssue(error: ConfigError, issue: Partial<ConfigIssue>): void {
  expect(error.issues).toContainEqual(expect.objectContaining(issue));
}

describe("loadConfig: defaults", () => {
  it("with no file and an empty environment", async () => {
    const config = await loadConfig({ env: {}, cwd });
    const home = path.join(os.homedir(), ".shepherd");
    expect(home).toBe(path.join(fakeUserHome, ".shepherd"));
    expect(config).toEqual({
      configPath: null,
      home,
      server: {
        host: "127.0.0.1",
        port: 4780,
        publicUrl: null,
        bodyLimitBytes: 1024 * 1024,
        publicMetrics: true,
      },
      database: {
        kind: "sqlite",
        path: path.join(home, "shepherd.db"),
        url: `sqlite:${path.join(home, "shepherd.db")}`,
      },
      github: {
        webUrl: "https://github.com",
        apiUrl: "https://api.github.com",
        graphqlUrl: "https://api.github.com/graphql",
        isGitHubDotCom: true,
        tokenRef: null,
        requestTimeoutSeconds: 15,
        writeSpacingMs: 1000,
        maxRateLimitWaitSeconds: 60,
        secondaryLimitFallbackSeconds: 60,
        retryBaseMs: 1000,
      },
      git: {
        authorName: "shepherd-bot",
        authorEmail: "shepherd-bot@users.noreply.github.com",
      },
      log: { level: "info" },
      queue: { leaseSeconds: 60 },
      prWorker: { concurrency: 2, lockTimeoutSeconds: 600, gitTimeoutSeconds: 120, retryBackoffSeconds: 5 },
      observer: {
        enabled: true,
        intervalSeconds: 30,
        reconcileIntervalSeconds: 300,
        staleAfterSeconds: 300,
        reviewIntervalSeconds: 120,
        requestTimeoutSeconds: 15,
        batchSize: 25,
        webhookHealthySeconds: 3600,
      },
      reactions: { global: {}, perRepo: {} },
      notifications: {
        routes: { urgent: ["dashboard"], action: ["dashboard"], warning: ["dashboard"], info: ["dashboard"] },
        webhooks: {},
      },
      llm: { default: null, providers: new Map(), models: new Map() },
      agents: {
        skillPacks: [],
        maxRunningSessions: 8,
        approvals: { timeoutSeconds: 3600, onTimeout: "reject", scanIntervalSeconds: 30 },
        gate: { tools: {}, confidenceThreshold: 0.7, gatedEnvironments: ["production"] },
        retry: { maxRetries: 2, retryOnTransient: true, lowConfidenceThreshold: 0.4 },
        teams: [],
        environments: ["production", "staging", "development"],
        lessons: { topK: 3, backfillWindowDays: 7 },
      },
    });
  });

  it("an empty file gives the defaults too", async () => {
    const file = await writeYaml("empty.yaml", "");
    const config = await loadConfig({ configPath: file, env: {}, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(4780);
    expect(config.home).toBe(path.join(fakeUserHome, ".shepherd"));
  });

  it("empty environment values are ignored", async () => {
    const config = await loadConfig({
      env: { SHEPHERD_PORT: "", SHEPHERD_HOST: "", SHEPHERD_HOME: "", SHEPHERD_GITHUB_TOKEN: "" },
      cwd,
    });
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 4780 });
    expect(config.home).toBe(path.join(fakeUserHome, ".shepherd"));
    expect(config.github.tokenRef).toBeNull();
  });
});

describe("loadConfig: finding the file", () => {
  it("via the configPath option (absolute)", async () => {
    const file = await writeYaml("conf/explicit.yaml", "server:\n  port: 5001\n");
    const config = await loadConfig({ configPath: file, env: {}, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5001);
  });

  it("via the configPath option, relative to cwd", async () => {
    const file = await writeYaml("cwd/sub/relative.yaml", "server:\n  port: 5002\n");
    const config = await loadConfig({ configPath: "sub/relative.yaml", env: {}, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5002);
  });

  it("via SHEPHERD_CONFIG", async () => {
    const file = await writeYaml("conf/from-env.yaml", "server:\n  port: 5003\n");
    const config = await loadConfig({ env: { SHEPHERD_CONFIG: file }, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5003);
  });

  it("via ./shepherd.yaml in cwd", async () => {
    const file = await writeYaml("cwd/shepherd.yaml", "server:\n  port: 5004\n");
    const config = await loadConfig({ env: {}, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5004);
  });

  it("via <home>/shepherd.yaml when SHEPHERD_HOME is set and cwd has none", async () => {
    const file = await writeYaml("data-home/shepherd.yaml", "server:\n  port: 5005\n");
    const config = await loadConfig({ env: { SHEPHERD_HOME: path.join(root, "data-home") }, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5005);
  });

  it("via ~/.shepherd/shepherd.yaml by default", async () => {
    const file = await writeYaml("user-home/.shepherd/shepherd.yaml", "server:\n  port: 5006\n");
    const config = await loadConfig({ env: {}, cwd });
    expect(config.configPath).toBe(file);
    expect(config.server.port).toBe(5006);
  });

  it.each([
    {
      name: "configPath beats SHEPHERD_CONFIG and ./shepherd.yaml",
      configPath: "option.yaml",
      shepherdConfig: "env.yaml",
      expectedPort: 6001,
    },
    {
      name: "SHEPHERD_CONFIG beats ./shepherd.yaml",
      configPath: undefined,
      shepherdConfig: "env.yaml",
      expectedPort: 6002,
    },
    {
      name: "./shepherd.yaml is used when neither is given",
      configPath: undefined,
      shepherdConfig: undefined,
      expectedPort: 6003,
    },
  ])("$name", async ({ configPath, shepherdConfig, expectedPort }) => {
    await writeYaml("cwd/option.yaml", "server:\n  port: 6001\n");
    await writeYaml("cwd/env.yaml", "server:\n  port: 6002\n");
    await writeYaml("cwd/shepherd.yaml", "server:\n  port: 6003\n");
    await writeYaml("cwd/home/shepherd.yaml", "server:\n  port: 6004\n");
    const env: NodeJS.ProcessEnv = { SHEPHERD_HOME: path.join(cwd, "home") };
    if (shepherdConfig) env.SHEPHERD_CONFIG = shepherdConfig;
    const config = await loadConfig({ configPath, env, cwd });
    expect(config.server.port).toBe(expectedPort);
  });

  it("an explicit path that does not exist is an error, not a silent default", async () => {
    const missing = path.join(root, "nope.yaml");
    const error = await configFailure({ configPath: missing });
    expect(error.message).toBe(`invalid configuration: ${missing} file not found`);
    expect(error.issues).toEqual([{ path: "", source: missing, message: "file not found" }]);
  });

  it("a file that is not a mapping is an error", async () => {
    const file = await writeYaml("scalar.yaml", "just a string\n");
    const error = await configFailure({ configPath: file });
    expect(error.message).toContain("the file must hold a mapping of keys");
    expect(error.message).toContain(file);
  });
});

describe("loadConfig: precedence file < env < CLI override", () => {
  it.each([
    { name: "file only", env: {}, override: undefined, port: 1111, host: "file-host" },
    {
      name: "env beats file",
      env: { SHEPHERD_PORT: "2222", SHEPHERD_HOST: "env-host" },
      override: undefined,
      port: 2222,
      host: "env-host",
    },
    {
      name: "override beats env",
      env: { SHEPHERD_PORT: "2222", SHEPHERD_HOST: "env-host" },
      override: 3333,
      port: 3333,
      host: "env-host",
    },
    { name: "override beats file", env: {}, override: 3333, port: 3333, host: "file-host" },
  ])("$name", async ({ env, override, port, host }) => {
    const file = await writeYaml("p.yaml", "server:\n  port: 1111\n  host: file-host\n");
    const config = await loadConfig({
      configPath: file,
      env,
      cwd,
      overrides:
        override === undefined ? [] : [{ path: ["server", "port"], value: override, flag: "--port" }],
    });
    expect(config.server.port).toBe(port);
    expect(config.server.host).toBe(host);
  });

  it("an override whose value is undefined is ignored", async () => {
    const config = await loadConfig({
      env: { SHEPHERD_PORT: "2222" },
      cwd,
      overrides: [{ path: ["server", "port"], value: undefined, flag: "--port" }],
    });
    expect(config.server.port).toBe(2222);
  });

  it("every documented environment variable is honoured", async () => {
    const config = await loadConfig({
      env: {
        SHEPHERD_HOME: "/srv/shepherd",
        SHEPHERD_HOST: "0.0.0.0",
        SHEPHERD_PORT: " 8080 ",
        SHEPHERD_PUBLIC_URL: "https://shepherd.example.com/",
        SHEPHERD_DATABASE_URL: "postgres://shepherd@db.example.com:5432/shepherd",
        SHEPHERD_GITHUB_URL: "https://ghe.example.com",
        SHEPHERD_GITHUB_TOKEN: "ghp_whatever",
        SHEPHERD_GIT_AUTHOR_NAME: "Release Bot",
        SHEPHERD_GIT_AUTHOR_EMAIL: "bot@example.com",
        SHEPHERD_LOG_LEVEL: "debug",
      },
      cwd,
    });
    expect(config).toMatchObject({
      configPath: null,
      home: "/srv/shepherd",
      server: { host: "0.0.0.0", port: 8080, publicUrl: "https://shepherd.example.com" },
      database: { kind: "postgres", url: "postgres://shepherd@db.example.com:5432/shepherd" },
      github: {
        webUrl: "https://ghe.example.com",
        apiUrl: "https://ghe.example.com/api/v3",
        graphqlUrl: "https://ghe.example.com/api/graphql",
        isGitHubDotCom: false,
        tokenRef: "env:SHEPHERD_GITHUB_TOKEN",
      },
      git: { authorName: "Release Bot", authorEmail: "bot@example.com" },
      log: { level: "debug" },
    });
  });

  it("reads every key of a complete file", async () => {
    const file = await writeYaml(
      "full.yaml",
      [
        "home: /srv/full",
        "server:",
        "  host: 0.0.0.0",
        "  port: 9000",
        "  publicUrl: https://shepherd.example.com//",
        "  bodyLimitBytes: 2048",
        "  publicMetrics: false",
        "database:",
        "  url: sqlite:/var/lib/shepherd/db.sqlite",
        "github:",
        "  url: http://127.0.0.1:4999",
        "  tokenRef: file:github-token",
        "git:",
        "  authorName: Bot",
        "  authorEmail: bot@example.com",
        "log:",
        "  level: warn",
        "queue:",
        "  leaseSeconds: 120",
        "observer:",
        "  intervalSeconds: 10",
        "  reconcileIntervalSeconds: 600",
        "reactions:",
        "  ci_failed: { action: notify, retries: 1, escalate_after: 3, priority: urgent }",
        "  changes_requested: { max_nudges: 2, escalate_after: 45m, include_bots: true, message: Please look }",
        "  approved_and_green: { action: auto_merge, method: squash }",
        "  agent_stuck: { threshold: 20m }",
        "notifications:",
        "  routes: { urgent: [dashboard, 'webhook:ops'], info: [] }",
        "  webhooks:",
        "    ops: { urlRef: 'file:slack-ops' }",
        "    audit: { url: 'https://audit.example.com/hook', format: json }",
        "repos:",
        "  search: { reactions: { merge_conflict: { action: none } } }",
        "llm:",
        "  providers: { local: { kind: openai-compatible, baseUrl: 'http://127.0.0.1:11434/v1', requestTimeoutSeconds: 60 } }",
        "  models: { coder: { provider: local, model: 'qwen2.5-coder:14b', temperature: 0 } }",
        "agents:",
        "  skillPacks: [skills/tuner]",
        "  retry: { maxRetries: 4 }",
        "  environments: [prod, dev]",
        "  lessons: { topK: 5 }",
        "",
      ].join("\n"),
    );
    await expect(loadConfig({ configPath: file, env: {}, cwd })).resolves.toEqual({
      configPath: file,
      home: "/srv/full",
      server: {
        host: "0.0.0.0",
        port: 9000,
        publicUrl: "https://shepherd.example.com",
        bodyLimitBytes: 2048,
        publicMetrics: false,
      },
      database: {
        kind: "sqlite",
        path: "/var/lib/shepherd/db.sqlite",
        url: "sqlite:/var/lib/shepherd/db.sqlite",
      },
      github: {
        webUrl: "http://127.0.0.1:4999",
        apiUrl: "http://127.0.0.1:4999/api/v3",
        graphqlUrl: "http://127.0.0.1:4999/api/graphql",
        isGitHubDotCom: false,
        tokenRef: "file:github-token",
        requestTimeoutSeconds: 15,
        writeSpacingMs: 1000,
        maxRateLimitWaitSeconds: 60,
        secondaryLimitFallbackSeconds: 60,
        retryBaseMs: 1000,
      },
      git: { authorName: "Bot", authorEmail: "bot@example.com" },
      log: { level: "warn" },
      queue: { leaseSeconds: 120 },
      prWorker: { concurrency: 2, lockTimeoutSeconds: 600, gitTimeoutSeconds: 120, retryBackoffSeconds: 5 },
      observer: {
        enabled: true,
        intervalSeconds: 10,
        reconcileIntervalSeconds: 600,
        staleAfterSeconds: 300,
        reviewIntervalSeconds: 120,
        requestTimeoutSeconds: 15,
        batchSize: 25,
        webhookHealthySeconds: 3600,
      },
      reactions: {
        global: {
          ci_failed: { action: "notify", retries: 1, escalateAfter: { attempts: 3 }, priority: "urgent" },
          changes_requested: {
            maxNudges: 2,
            escalateAfter: { ms: 45 * 60_000 },
            includeBots: true,
            message: "Please look",
          },
          approved_and_green: { action: "auto_merge", method: "squash" },
          agent_stuck: { thresholdMs: 20 * 60_000 },
        },
        perRepo: { search: { merge_conflict: { action: "none" } } },
      },
      notifications: {
        routes: {
          urgent: ["dashboard", "webhook:ops"],
          action: ["dashboard"],
          warning: ["dashboard"],
          info: [],
        },
        webhooks: {
          ops: { url: null, urlRef: "file:slack-ops", format: "slack" },
          audit: { url: "https://audit.example.com/hook", urlRef: null, format: "json" },
        },
      },
      llm: {
        default: "coder",
        providers: new Map([
          [
            "local",
            {
              kind: "openai-compatible",
              name: "local",
              baseUrl: "http://127.0.0.1:11434/v1",
              apiKeyRef: null,
              requestTimeoutSeconds: 60,
              maxRetries: 2,
            },
          ],
        ]),
        models: new Map([
          [
            "coder",
            {
              name: "coder",
              provider: "local",
              model: "qwen2.5-coder:14b",
              temperature: 0,
              maxOutputTokens: null,
            },
          ],
        ]),
      },
      agents: {
        skillPacks: [path.join(path.dirname(file), "skills/tuner")],
        maxRunningSessions: 8,
        approvals: { timeoutSeconds: 3600, onTimeout: "reject", scanIntervalSeconds: 30 },
        gate: { tools: {}, confidenceThreshold: 0.7, gatedEnvironments: ["production"] },
        retry: { maxRetries: 4, retryOnTransient: true, lowConfidenceThreshold: 0.4 },
        teams: [],
        environments: ["prod", "dev"],
        lessons: { topK: 5, backfillWindowDays: 7 },
      },
    });
  });
});

describe("loadConfig: strict validation with the offending path and location", () => {
  it("an unknown top-level key → its dotted path and file:line:col", async () => {
    const file = await writeYaml("unknown.yaml", "server:\n  port: 5000\nfoo: 1\n");
    const error = await configFailure({ configPath: file });
    expect(error.name).toBe("ConfigError");
    expect(error.message).toBe(`invalid configuration: ${file}:3:1 foo: unknown key`);
    expect(error.issues).toEqual([{ path: "foo", source: `${file}:3:1`, message: "unknown key" }]);
  });

  it("a nested unknown key (server.prot) → its dotted path and file:line:col", async () => {
    const file = await writeYaml("nested.yaml", "home: /srv/x\nserver:\n  host: 0.0.0.0\n  prot: 4781\n");
    const error = await configFailure({ configPath: file });
    expect(error.message).toContain("server.prot");
    expect(error.message).toContain(`${file}:4:3`);
    expect(error.issues).toEqual([{ path: "server.prot", source: `${file}:4:3`, message: "unknown key" }]);
  });

  it("a deeper unknown key (github.token) is reported, not ignored", async () => {
    const file = await writeYaml("deep.yaml", "github:\n  url: https://github.com\n  token: ghp_x\n");
    const error = await configFailure({ configPath: file });
    expect(error.issues).toEqual([{ path: "github.token", source: `${file}:3:3`, message: "unknown key" }]);
  });

  it("several problems are reported together", async () => {
    const file = await writeYaml("many.yaml", "colour: blue\nserver:\n  prot: 1\n  port: -5\n");
    const error = await configFailure({ configPath: file });
    expectIssue(error, { path: "colour", source: `${file}:1:1`, message: "unknown key" });
    expectIssue(error, { path: "server.prot", source: `${file}:3:3`, message: "unknown key" });
    expectIssue(error, { path: "server.port", source: `${file}:4:9` });
    expect(error.issues).toHaveLength(3);
  });

  it("a wrong type from SHEPHERD_PORT names the variable and server.port", async () => {
    const error = await configFailure({ env: { SHEPHERD_PORT: "abc" } });
    expect(error.message).toContain("SHEPHERD_PORT");
    expect(error.message).toContain("server.port");
    expect(error.message).toMatch(/^invalid configuration: SHEPHERD_PORT server\.port: /);
    expect(error.issues).toHaveLength(1);
    expectIssue(error, { path: "server.port", source: "SHEPHERD_PORT" });
  });

  it("SHEPHERD_PORT names the variable even when the file also sets the port", async () => {
    const file = await writeYaml("port.yaml", "server:\n  port: 5000\n");
    const error = await configFailure({ configPath: file, env: { SHEPHERD_PORT: "99999" } });
    expect(error.issues).toHaveLength(1);
    expectIssue(error, { path: "server.port", source: "SHEPHERD_PORT" });
  });

  it("a wrong type in the file points at the value's line:col", async () => {
    const file = await writeYaml("type.yaml", "server:\n  port: abc\n");
    const error = await configFailure({ configPath: file });
    expect(error.message).toMatch(/^invalid configuration: /);
    expect(error.message).toContain(`${file}:2:9 server.port: `);
    expectIssue(error, { path: "server.port", source: `${file}:2:9` });
  });

  it("a wrong type from a CLI override names the flag", async () => {
    const error = await configFailure({
      overrides: [{ path: ["server", "port"], value: "abc", flag: "--port" }],
    });
    expect(error.message).toContain("--port server.port: ");
    expectIssue(error, { path: "server.port", source: "--port" });
  });

  it.each([
    { yaml: "server:\n  port: 70000\n", path: "server.port", where: ":2:9" },
    { yaml: "server:\n  port: 1.5\n", path: "server.port", where: ":2:9" },
    { yaml: "server:\n  host: ''\n", path: "server.host", where: ":2:9" },
    { yaml: "server:\n  publicUrl: ftp://x.example.com\n", path: "server.publicUrl", where: ":2:14" },
    { yaml: "server:\n  bodyLimitBytes: 10\n", path: "server.bodyLimitBytes", where: ":2:19" },
    { yaml: "server:\n  publicMetrics: 'yes'\n", path: "server.publicMetrics", where: ":2:18" },
    { yaml: "git:\n  authorEmail: not-an-email\n", path: "git.authorEmail", where: ":2:16" },
    { yaml: "log:\n  level: loud\n", path: "log.level", where: ":2:10" },
    { yaml: "queue:\n  leaseSeconds: 1\n", path: "queue.leaseSeconds", where: ":2:17" },
    { yaml: "server: 4780\n", path: "server", where: ":1:9" },
  ])("$yaml → $path at $where", async ({ yaml, path: keyPath, where }) => {
    const file = await writeYaml("bad.yaml", yaml);
    const error = await configFailure({ configPath: file });
    expect(error.issues).toHaveLength(1);
    expectIssue(error, { path: keyPath, source: `${file}${where}` });
    expect(error.message).toContain(`${file}${where} ${keyPath}: `);
  });

  // The YAML parser knows where the problem is; the message must say so (file:line:col).
  it.each([
    { name: "a syntax error", yaml: "home: /srv/x\na: b: c\n", where: ":2:4" },
    { name: "duplicate keys", yaml: "server:\n  port: 1\n  port: 2\n", where: ":3:3" },
  ])("$name → file:line:col", async ({ yaml, where }) => {
    const file = await writeYaml("broken.yaml", yaml);
    const error = await configFailure({ configPath: file });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.source).toBe(`${file}${where}`);
    expect(error.message).toContain(`${file}${where} `);
  });

  it("a YAML problem is reported with its parser message", async () => {
    const file = await writeYaml("dup.yaml", "server:\n  port: 1\n  port: 2\n");
    const error = await configFailure({ configPath: file });
    expect(error.message).toContain("Map keys must be unique");
    expect(error.message).toContain(file);
  });
});

describe("loadConfig: home", () => {
  it("a relative home in the file is relative to the file's directory", async () => {
    const file = await writeYaml("conf/dir/shepherd.yaml", "home: data\n");
    const config = await loadConfig({ configPath: file, env: {}, cwd });
    expect(config.home).toBe(path.join(root, "conf/dir/data"));
    expect(config.database).toEqual({
      kind: "sqlite",
      path: path.join(root, "conf/dir/data/shepherd.db"),
      url: `sqlite:${path.join(root, "conf/dir/data/shepherd.db")}`,
    });
  });

  it("a relative SHEPHERD_HOME is relative to cwd, even when a file is read", async () => {
    const file = await writeYaml("conf/shepherd.yaml", "home: ignored\n");
    const config = await loadConfig({ configPath: file, env: { SHEPHERD_HOME: "state" }, cwd });
    expect(config.home).toBe(path.join(cwd, "state"));
  });

  it.each([
    { home: "~", expected: () => fakeUserHome },
    { home: "~/shepherd-data", expected: () => path.join(fakeUserHome, "shepherd-data") },
    { home: "/abs/home", expected: () => "/abs/home" },
  ])("home $home", async ({ home, expected }) => {
    const file = await writeYaml("conf/shepherd.yaml", `home: "${home}"\n`);
    const config = await loadConfig({ configPath: file, env: {}, cwd });
    expect(config.home).toBe(expected());
  });
});

describe("loadConfig: database.url", () => {
  it.each([
    {
      url: "sqlite:relative/state.db",
      expected: (home: string) => ({
        kind: "sqlite",
        path: path.join(home, "relative/state.db"),
        url: `sqlite:${path.join(home, "relative/state.db")}`,
      }),
    },
    {
      url: "sqlite:state.db",
      expected: (home: string) => ({
        kind: "sqlite",
        path: path.join(home, "state.db"),
        url: `sqlite:${path.join(home, "state.db")}`,
      }),
    },
    {
      url: "sqlite:/var/lib/shepherd/s.db",
      expected: () => ({
        kind: "sqlite",
        path: "/var/lib/shepherd/s.db",
        url: "sqlite:/var/lib/shepherd/s.db",
      }),
    },
    {
      url: "sqlite:///var/lib/shepherd/s.db",
      expected: () => ({
        kind: "sqlite",
        path: "/var/lib/shepherd/s.db",
        url: "sqlite:/var/lib/shepherd/s.db",
      }),
    },
    {
      url: "postgres://shepherd:pw@db.example.com:5432/shepherd",
      expected: () => ({ kind: "postgres", url: "postgres://shepherd:pw@db.example.com:5432/shepherd" }),
    },
    {
      url: "postgresql://db.example.com/shepherd?sslmode=require",
      expected: () => ({ kind: "postgres", url: "postgresql://db.example.com/shepherd?sslmode=require" }),
    },
    {
      url: "postgres:///shepherd?host=/var/run/postgresql",
      expected: () => ({ kind: "postgres", url: "postgres:///shepherd?host=/var/run/postgresql" }),
    },
  ])("$url", async ({ url, expected }) => {
    const home = path.join(root, "h");
    const config = await loadConfig({
      env: { SHEPHERD_HOME: home, SHEPHERD_DATABASE_URL: url },
      cwd,
    });
    expect(config.database).toEqual(expected(home));
  });

  it.each([
    { url: "mysql://db.example.com/shepherd", message: 'must start with "sqlite:" or "postgres://"' },
    { url: "shepherd.db", message: 'must start with "sqlite:" or "postgres://"' },
    { url: "postgres:db", message: 'must start with "sqlite:" or "postgres://"' },
    { url: "postgres://", message: "not a valid postgres:// URL" },
    { url: "postgres://[oops/db", message: "not a valid postgres:// URL" },
    {
      url: "sqlite:",
      message: 'a sqlite: URL needs a file path, e.g. "sqlite:/var/lib/shepherd/shepherd.db"',
    },
  ])("garbage from the file: $url → database.url", async ({ url, message }) => {
    const file = await writeYaml("db.yaml", `database:\n  url: "${url}"\n`);
    const error = await configFailure({ configPath: file });
    expect(error.issues).toEqual([{ path: "database.url", source: `${file}:2:8`, message }]);
    expect(error.message).toBe(`invalid configuration: ${file}:2:8 database.url: ${message}`);
  });

  it("garbage from SHEPHERD_DATABASE_URL names the variable", async () => {
    const error = await configFailure({ env: { SHEPHERD_DATABASE_URL: "mysql://x" } });
    expect(error.issues).toEqual([
      {
        path: "database.url",
        source: "SHEPHERD_DATABASE_URL",
        message: 'must start with "sqlite:" or "postgres://"',
      },
    ]);
  });
});

describe("loadConfig: github", () => {
  it("SHEPHERD_GITHUB_TOKEN set → tokenRef env:SHEPHERD_GITHUB_TOKEN (never the value)", async () => {
    const config = await loadConfig({ env: { SHEPHERD_GITHUB_TOKEN: "ghp_secretvalue" }, cwd });
    expect(config.github.tokenRef).toBe("env:SHEPHERD_GITHUB_TOKEN");
    expect(JSON.stringify(config)).not.toContain("ghp_secretvalue");
  });

  it("SHEPHERD_GITHUB_TOKEN wins over github.tokenRef in the file", async () => {
    const file = await writeYaml("gh.yaml", "github:\n  tokenRef: file:github-token\n");
    const config = await loadConfig({ configPath: file, env: { SHEPHERD_GITHUB_TOKEN: "ghp_x" }, cwd });
    expect(config.github.tokenRef).toBe("env:SHEPHERD_GITHUB_TOKEN");
  });

  it("a blank SHEPHERD_GITHUB_TOKEN is not a token; the file's tokenRef stays", async () => {
    const file = await writeYaml("gh.yaml", "github:\n  tokenRef: env:GH_TOKEN\n");
    const config = await loadConfig({ configPath: file, env: { SHEPHERD_GITHUB_TOKEN: "   " }, cwd });
    expect(config.github.tokenRef).toBe("env:GH_TOKEN");
  });

  it.each([
    {
      ref: "ghp_literal_token",
      message: '"ghp_literal_token" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      ref: "file:../admin.token",
      message: '"file:../admin.token": ".." is not allowed in a file: ref',
    },
    {
      ref: "file:/etc/shadow",
      message: '"file:/etc/shadow": file: refs name a file inside <home>/secrets/, not an absolute path',
    },
    {
      ref: "env:1BAD",
      message: '"env:1BAD": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
  ])("invalid github.tokenRef $ref → github.tokenRef", async ({ ref, message }) => {
    const file = await writeYaml("gh.yaml", `github:\n  tokenRef: "${ref}"\n`);
    const error = await configFailure({ configPath: file });
    expect(error.issues).toEqual([{ path: "github.tokenRef", source: `${file}:2:13`, message }]);
    expect(error.message).toContain(`${file}:2:13 github.tokenRef: `);
  });

  it("a non-loopback http github.url in the file → github.url with file:line:col", async () => {
    const file = await writeYaml("gh.yaml", "github:\n  url: http://ghe.example.com\n");
    const error = await configFailure({ configPath: file });
    expect(error.issues).toEqual([
      {
        path: "github.url",
        source: `${file}:2:8`,
        message: "plain http:// is accepted only for loopback hosts; use https://ghe.example.com",
      },
    ]);
  });

  it("a non-loopback http SHEPHERD_GITHUB_URL names the variable", async () => {
    const error = await configFailure({ env: { SHEPHERD_GITHUB_URL: "http://ghe.example.com" } });
    expect(error.issues).toEqual([
      {
        path: "github.url",
        source: "SHEPHERD_GITHUB_URL",
        message: "plain http:// is accepted only for loopback hosts; use https://ghe.example.com",
      },
    ]);
  });

  it("a bad github.url and a bad database.url are reported together", async () => {
    const error = await configFailure({
      env: { SHEPHERD_GITHUB_URL: "ftp://x", SHEPHERD_DATABASE_URL: "nope" },
    });
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(["database.url", "github.url"]);
  });

  it.each([
    {
      url: "https://ghe.example.com/",
      expected: {
        webUrl: "https://ghe.example.com",
        apiUrl: "https://ghe.example.com/api/v3",
        graphqlUrl: "https://ghe.example.com/api/graphql",
        isGitHubDotCom: false,
      },
    },
    {
      url: "http://localhost:4999",
      expected: {
        webUrl: "http://localhost:4999",
        apiUrl: "http://localhost:4999/api/v3",
        graphqlUrl: "http://localhost:4999/api/graphql",
        isGitHubDotCom: false,
      },
    },
    {
      url: "https://www.github.com",
      expected: {
        webUrl: "https://github.com",
        apiUrl: "https://api.github.com",
        graphqlUrl: "https://api.github.com/graphql",
        isGitHubDotCom: true,
      },
    },
  ])("github.url $url derives the API URLs", async ({ url, expected }) => {
    const config = await loadConfig({ env: { SHEPHERD_GITHUB_URL: url }, cwd });
    expect(config.github).toEqual({
      ...expected,
      tokenRef: null,
      requestTimeoutSeconds: 15,
      writeSpacingMs: 1000,
      maxRateLimitWaitSeconds: 60,
      secondaryLimitFallbackSeconds: 60,
      retryBaseMs: 1000,
    });
  });
});

describe("loadConfig: reactions, notifications and the observer", () => {
  it("a wrong reaction action names the reaction key and where it is", async () => {
    const file = await writeYaml("reaction.yaml", "reactions:\n  pr_merged:\n    action: send_to_agent\n");
    const error = await configFailure({ configPath: file });
    expect(error.issues).toEqual([
      {
        path: "reactions.pr_merged.action",
        source: `${file}:3:13`,
        message: "pr_merged can only notify (or be none)",
      },
    ]);
  });

  it("auto_merge is refused for anything but approved_and_green", async () => {
    const file = await writeYaml("merge.yaml", "reactions:\n  ci_failed: { action: auto_merge }\n");
    const error = await configFailure({ configPath: file });
    expect(error.issues.map((issue) => [issue.path, issue.message])).toEqual([
      ["reactions.ci_failed.action", "auto_merge is only for approved_and_green"],
    ]);
  });

  it("an unknown reaction, an unknown field and a bad duration are all reported", async () => {
    const file = await writeYaml(
      "bad.yaml",
      "reactions:\n  ci_broke: { action: notify }\n  merge_conflict: { escalate_after: soon, retry: 1 }\n",
    );
    const error = await configFailure({ configPath: file });
    expectIssue(error, { path: "reactions.ci_broke", source: `${file}:2:3`, message: "unknown key" });
    expectIssue(error, { path: "reactions.merge_conflict.retry", message: "unknown key" });
    expect(
      error.issues.find((issue) => issue.path === "reactions.merge_conflict.escalate_after"),
    ).toBeDefined();
  });

  it("a per-repo override is checked like the global one", async () => {
    const file = await writeYaml(
      "repo.yaml",
      "repos:\n  search:\n    reactions:\n      pr_closed: { threshold: 5m }\n",
    );
    const error = await configFailure({ configPath: file });
    expect(error.issues.map((issue) => [issue.path, issue.message])).toEqual([
      ["repos.search.reactions.pr_closed.threshold", "only agent_stuck has a threshold"],
    ]);
  });

  it("a route to a webhook that is not defined is an error with its index", async () => {
    const file = await writeYaml(
      "route.yaml",
      "notifications:\n  routes:\n    urgent: [dashboard, 'webhook:pager']\n",
    );
    const error = await configFailure({ configPath: file });
    expect(error.issues.map((issue) => [issue.path, issue.message])).toEqual([
      ["notifications.routes.urgent.1", 'no webhook named "pager" under notifications.webhooks'],
    ]);
  });

  it("a notification webhook needs exactly one of url and urlRef, and a valid ref", async () => {
    const both = await writeYaml(
      "both.yaml",
      "notifications:\n  webhooks:\n    ops: { url: 'https://x.example', urlRef: 'env:X' }\n",
    );
    expect((await configFailure({ configPath: both })).issues.map((issue) => issue.message)).toEqual([
      "give exactly one of url or urlRef",
    ]);
    const escaping = await writeYaml(
      "escape.yaml",
      "notifications:\n  webhooks:\n    ops: { urlRef: 'file:../x' }\n",
    );
    const error = await configFailure({ configPath: escaping });
    expect(error.issues.map((issue) => issue.path)).toEqual(["notifications.webhooks.ops.urlRef"]);
  });

  it("agents: skill packs relative to the file, operator gate and rosters; bad tool keys and ranges refused with their place", async () => {
    const file = await writeYaml(
      "conf/agents.yaml",
      [
        "agents:",
        "  skillPacks: [packs/tuner, /opt/shepherd/triage]",
        "  maxRunningSessions: 2",
        "  approvals: { timeoutSeconds: 600, onTimeout: escalate }",
        '  gate: { tools: { "metrics:*": low, submit_proposal: high, "*": medium }, gatedEnvironments: [prod] }',
        "  teams: [search-team, platform-oncall]",
        "",
      ].join("\n"),
    );
    const config = await loadConfig({ configPath: file, env: {}, cwd });
    expect(config.agents).toMatchObject({
      skillPacks: [path.join(root, "conf/packs/tuner"), "/opt/shepherd/triage"],
      maxRunningSessions: 2,
      approvals: { timeoutSeconds: 600, onTimeout: "escalate", scanIntervalSeconds: 30 },
      gate: {
        tools: { "metrics:*": "low", submit_proposal: "high", "*": "medium" },
        confidenceThreshold: 0.7,
        gatedEnvironments: ["prod"],
      },
      teams: ["search-team", "platform-oncall"],
    });

    const bad = await writeYaml(
      "bad-agents.yaml",
      'agents:\n  maxRunningSessions: 0\n  gate:\n    tools: { "a:b:c": low, read_file: maybe }\n  teams: [Search Team]\n',
    );
    const error = await configFailure({ configPath: bad });
    expect(error.issues.map((issue) => issue.path).sort()).toEqual([
      "agents.gate.tools.a:b:c",
      "agents.gate.tools.read_file",
      "agents.maxRunningSessions",
      "agents.teams.0",
    ]);
    expectIssue(error, { path: "agents.maxRunningSessions", source: `${bad}:2:23` });
  });

  it("observer intervals are bounded", async () => {
    const file = await writeYaml("observer.yaml", "observer:\n  intervalSeconds: 1\n  batchSize: 26\n");
    const error = await configFailure({ configPath: file });
    expect(error.issues.map((issue) => issue.path).sort()).toEqual([
      "observer.batchSize",
      "observer.intervalSeconds",
    ]);
  });
});
