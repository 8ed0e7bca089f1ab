import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/config-schema.js";
import { isLoopbackHost } from "../config/github-urls.js";
import { ConfigError, loadConfig, type ConfigOverride } from "../config/load-config.js";
import { ApiClient } from "./api-client.js";
import { CliError } from "./cli-error.js";
import { createOutput, type Output } from "./output.js";

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  url?: string;
  config?: string;
  tokenFile?: string;
}

export async function loadCliConfig(
  configPath: string | undefined,
  overrides: ConfigOverride[] = [],
): Promise<Config> {
  try {
    return await loadConfig({ configPath, overrides });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
}

/** A host to connect to for a listen address (0.0.0.0 means "this machine"). */
function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

async function readToken(file: string, what: string): Promise<string> {
  try {
    const token = (await readFile(file, "utf8")).trim();
    if (!token) throw new CliError(`${what} ${file} is empty`);
    return token;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/**
 * The API client for a command: URL from --url, $SHEPHERD_URL or the configured listen address;
 * token from $SHEPHERD_TOKEN, --token-file, or — for a server on this machine — <home>/admin.token.
 * Tokens are never taken from argv (they would show in `ps`).
 */
export async function apiClientFor(globals: GlobalOptions): Promise<{ client: ApiClient; output: Output }> {
  const config = await loadCliConfig(globals.config);
  const url =
    globals.url ??
    process.env.SHEPHERD_URL ??
    `http://${connectHost(config.server.host)}:${config.server.port}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("scheme");
  } catch {
    throw new CliError(`--url must be an http(s) URL, got "${url}"`, 2);
  }
  let token = process.env.SHEPHERD_TOKEN?.trim() || undefined;
  if (!token && globals.tokenFile) token = await readToken(path.resolve(globals.tokenFile), "token file");
  if (!token && isLoopbackHost(parsed.hostname)) {
    const adminFile = path.join(config.home, "admin.token");
    token = await readToken(adminFile, "admin token file").catch(() => undefined);
  }
  // Keep a path prefix (a server behind a reverse proxy at /shepherd) and drop the trailing slash.
  const baseUrl = `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
  return { client: new ApiClient(baseUrl, token), output: createOutput(Boolean(globals.json)) };
}
