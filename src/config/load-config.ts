import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from "yaml";
import type { z } from "zod";
import {
  configFileSchema,
  DEFAULTS,
  ENV_OVERRIDES,
  type Config,
  type ConfigFile,
  type DatabaseTarget,
} from "./config-schema.js";
import { deriveGitHubUrls, GitHubUrlError } from "./github-urls.js";
import {
  OBSERVER_DEFAULTS,
  resolveNotifications,
  resolveReactionOverrides,
  type ReactionsConfig,
} from "./reactions-schema.js";
import { parseSecretRef, SecretRefError } from "./secret-ref.js";
import { resolveAgentsConfig } from "./agents-schema.js";
import { resolveLlmConfig } from "./llm-schema.js";

export interface ConfigIssue {
  /** Dotted key path, e.g. `server.port`. */
  path: string;
  /** Where the value came from: `shepherd.yaml:3:9`, `SHEPHERD_PORT`, `--port`. */
  source: string;
  message: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration: ${issues.map(formatIssue).join("; ")}`);
  }
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.source ? `${issue.source} ` : "";
  return issue.path ? `${where}${issue.path}: ${issue.message}` : `${where}${issue.message}`;
}

/** A value given on the command line, overriding file and environment. */
export interface ConfigOverride {
  path: readonly string[];
  value: unknown;
  /** The flag it came from, e.g. `--port`. */
  flag: string;
}

export interface LoadConfigOptions {
  /** `--config`; when unset `$SHEPHERD_CONFIG`, then `./shepherd.yaml`, then `<home>/shepherd.yaml`. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  overrides?: readonly ConfigOverride[];
  cwd?: string;
}

interface FileSource {
  path: string;
  document: Document;
  lineCounter: LineCounter;
}

function expandHome(value: string): string {
  if (value === "~") return os.homedir();
  if (value.startsWith("~/")) return path.join(os.homedir(), value.slice(2));
  return value;
}

function findConfigFile(options: LoadConfigOptions, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const explicit = options.configPath ?? env.SHEPHERD_CONFIG;
  if (explicit) return path.resolve(cwd, expandHome(explicit));
  const local = path.join(cwd, "shepherd.yaml");
  if (existsSync(local)) return local;
  const home = path.resolve(cwd, expandHome(env.SHEPHERD_HOME ?? "~/.shepherd"));
  const inHome = path.join(home, "shepherd.yaml");
  return existsSync(inHome) ? inHome : null;
}

async function readConfigFile(file: string): Promise<FileSource> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : "cannot be read";
    throw new ConfigError([{ path: "", source: file, message: reason }]);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const firstError = document.errors[0];
  if (firstError) {
    // With prettyErrors off, yaml leaves linePos unset; the offset is always there.
    const pos = lineCounter.linePos(firstError.pos[0]);
    const where = `${file}:${pos.line}:${pos.col}`;
    throw new ConfigError([{ path: "", source: where, message: firstError.message.split("\n")[0] ?? "" }]);
  }
  return { path: file, document, lineCounter };
}

/** `file:line:col` of the value (or of an unknown key) at `keyPath` in the YAML document. */
function locate(file: FileSource, keyPath: readonly PropertyKey[], unknownKey?: string): string {
  let offset: number | undefined;
  if (unknownKey !== undefined) {
    const parent = keyPath.length === 0 ? file.document.contents : file.document.getIn(keyPath, true);
    if (isMap(parent)) {
      const pair = parent.items.find(
        (item) => isPair(item) && isScalar(item.key) && item.key.value === unknownKey,
      );
      offset = pair && isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    }
  } else {
    const node = file.document.getIn(keyPath, true) as { range?: [number, number, number] } | undefined;
    offset = node?.range?.[0];
  }
  if (offset === undefined) return path.basename(file.path);
  const pos = file.lineCounter.linePos(offset);
  return `${file.path}:${pos.line}:${pos.col}`;
}

function setPath(target: Record<string, unknown>, keyPath: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keyPath[keyPath.length - 1] as string] = value;
}

function envValue(raw: string, type: "string" | "integer"): unknown {
  if (type === "integer" && /^\s*-?\d+\s*$/.test(raw)) return Number(raw);
  return raw;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const configPath = findConfigFile(options, env, cwd);
  const file = configPath ? await readConfigFile(configPath) : null;
  const fromFile: unknown = file?.document.toJS() ?? {};
  if (fromFile === null || typeof fromFile !== "object" || Array.isArray(fromFile)) {
    throw new ConfigError([
      { path: "", source: configPath ?? "", message: "the file must hold a mapping of keys" },
    ]);
  }

  const merged = structuredClone(fromFile) as Record<string, unknown>;
  // Dotted path → where an override came from; the file is the source of everything else.
  const sources = new Map<string, string>();
  for (const entry of ENV_OVERRIDES) {
    const raw = env[entry.env];
    if (raw === undefined || raw === "") continue;
    setPath(merged, entry.path, envValue(raw, entry.type));
    sources.set(entry.path.join("."), entry.env);
  }
  for (const override of options.overrides ?? []) {
    if (override.value === undefined) continue;
    setPath(merged, override.path, override.value);
    sources.set(override.path.join("."), override.flag);
  }

  const sourceOf = (keyPath: readonly PropertyKey[], unknownKey?: string): string => {
    const dotted = keyPath.map(String).join(".");
    const override = sources.get(dotted);
    if (override) return override;
    return file ? locate(file, keyPath, unknownKey) : "";
  };

  const parsed = configFileSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(zodIssues(parsed.error, sourceOf));
  return resolveConfig(parsed.data, { env, cwd, file, sourceOf });
}

function zodIssues(
  error: z.ZodError,
  sourceOf: (keyPath: readonly PropertyKey[], unknownKey?: string) => string,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        issues.push({
          path: [...issue.path, key].map(String).join("."),
          source: sourceOf(issue.path, key),
          message: "unknown key",
        });
      }
      continue;
    }
    issues.push({
      path: issue.path.map(String).join("."),
      source: sourceOf(issue.path),
      message: issue.message,
    });
  }
  return issues;
}

interface ResolveContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  file: FileSource | null;
  sourceOf: (keyPath: readonly PropertyKey[]) => string;
}

function resolveConfig(data: ConfigFile, context: ResolveContext): Config {
  const issues: ConfigIssue[] = [];
  const fail = (keyPath: string[], message: string): void => {
    issues.push({ path: keyPath.join("."), source: context.sourceOf(keyPath), message });
  };

  // A relative home in the file is relative to the file; from the environment, to the cwd.
  const homeBase = context.file && !context.env.SHEPHERD_HOME ? path.dirname(context.file.path) : context.cwd;
  const home = path.resolve(homeBase, expandHome(data.home ?? "~/.shepherd"));

  const database = resolveDatabase(data.database?.url, home, (message) => fail(["database", "url"], message));

  const githubPolicy = {
    requestTimeoutSeconds: data.github?.requestTimeoutSeconds ?? DEFAULTS.githubRequestTimeoutSeconds,
    writeSpacingMs: data.github?.writeSpacingMs ?? DEFAULTS.githubWriteSpacingMs,
    maxRateLimitWaitSeconds: data.github?.maxRateLimitWaitSeconds ?? DEFAULTS.githubMaxRateLimitWaitSeconds,
    secondaryLimitFallbackSeconds:
      data.github?.secondaryLimitFallbackSeconds ?? DEFAULTS.githubSecondaryLimitFallbackSeconds,
    retryBaseMs: data.github?.retryBaseMs ?? DEFAULTS.githubRetryBaseMs,
  };
  let github: Config["github"] = {
    ...deriveGitHubUrls(DEFAULTS.githubUrl),
    tokenRef: null,
    ...githubPolicy,
  };
  try {
    github = { ...deriveGitHubUrls(data.github?.url ?? DEFAULTS.githubUrl), tokenRef: null, ...githubPolicy };
  } catch (error) {
    if (!(error instanceof GitHubUrlError)) throw error;
    fail(["github", "url"], error.message);
  }
  if (context.env.SHEPHERD_GITHUB_TOKEN?.trim()) {
    github.tokenRef = "env:SHEPHERD_GITHUB_TOKEN";
  } else if (data.github?.tokenRef) {
    try {
      parseSecretRef(data.github.tokenRef);
      github.tokenRef = data.github.tokenRef;
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      fail(["github", "tokenRef"], error.message);
    }
  }

  const checkRef = (keyPath: string[], ref: string | null): void => {
    if (ref === null) return;
    try {
      parseSecretRef(ref);
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      fail(keyPath, error.message);
    }
  };
  const reactions: ReactionsConfig = {
    global: resolveReactionOverrides(data.reactions, ["reactions"], fail),
    perRepo: Object.fromEntries(
      Object.entries(data.repos ?? {}).map(([name, repo]) => [
        name,
        resolveReactionOverrides(repo.reactions, ["repos", name, "reactions"], fail),
      ]),
    ),
  };
  const notifications = resolveNotifications(data.notifications, fail);
  for (const [name, hook] of Object.entries(notifications.webhooks)) {
    checkRef(["notifications", "webhooks", name, "urlRef"], hook.urlRef);
  }

  const baseDir = context.file ? path.dirname(context.file.path) : context.cwd;
  const llm = resolveLlmConfig(data.llm, baseDir, fail);
  const agents = resolveAgentsConfig(data.agents, baseDir);

  if (issues.length > 0 || !database) throw new ConfigError(issues);
  return {
    configPath: context.file?.path ?? null,
    home,
    server: {
      host: data.server?.host ?? DEFAULTS.host,
      port: data.server?.port ?? DEFAULTS.port,
      publicUrl: data.server?.publicUrl?.replace(/\/+$/, "") ?? null,
      bodyLimitBytes: data.server?.bodyLimitBytes ?? DEFAULTS.bodyLimitBytes,
      publicMetrics: data.server?.publicMetrics ?? true,
    },
    database,
    github,
    git: {
      authorName: data.git?.authorName ?? DEFAULTS.gitAuthorName,
      authorEmail: data.git?.authorEmail ?? DEFAULTS.gitAuthorEmail,
    },
    log: { level: data.log?.level ?? DEFAULTS.logLevel },
    queue: { leaseSeconds: data.queue?.leaseSeconds ?? DEFAULTS.leaseSeconds },
    prWorker: {
      concurrency: data.prWorker?.concurrency ?? DEFAULTS.prWorkerConcurrency,
      lockTimeoutSeconds: data.prWorker?.lockTimeoutSeconds ?? DEFAULTS.prWorkerLockTimeoutSeconds,
      gitTimeoutSeconds: data.prWorker?.gitTimeoutSeconds ?? DEFAULTS.prWorkerGitTimeoutSeconds,
      retryBackoffSeconds: data.prWorker?.retryBackoffSeconds ?? DEFAULTS.prWorkerRetryBackoffSeconds,
    },
    observer: { ...OBSERVER_DEFAULTS, ...data.observer },
    reactions,
    notifications,
    llm,
    agents,
  };
}

function resolveDatabase(
  url: string | undefined,
  home: string,
  fail: (message: string) => void,
): DatabaseTarget | null {
  if (url === undefined) {
    const file = path.join(home, "shepherd.db");
    return { kind: "sqlite", path: file, url: `sqlite:${file}` };
  }
  if (url.startsWith("sqlite:")) {
    const rest = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (rest === "") {
      fail('a sqlite: URL needs a file path, e.g. "sqlite:/var/lib/shepherd/shepherd.db"');
      return null;
    }
    const file = path.resolve(home, expandHome(rest));
    return { kind: "sqlite", path: file, url: `sqlite:${file}` };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    try {
      const parsed = new URL(url);
      if (!parsed.hostname && !parsed.searchParams.has("host")) throw new Error("no host");
    } catch {
      fail("not a valid postgres:// URL");
      return null;
    }
    return { kind: "postgres", url };
  }
  fail('must start with "sqlite:" or "postgres://"');
  return null;
}
