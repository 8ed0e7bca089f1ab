import { constants } from "node:fs";
import { lstat, open, realpath, stat } from "node:fs/promises";
import path from "node:path";

/**
 * A secret reference (SPEC §0 "token ref"): where a secret lives, never the secret itself.
 * `file:<name>` names a file inside `<home>/secrets/`; `env:<VAR>` names an environment variable.
 */
export type SecretRef = { kind: "file"; name: string } | { kind: "env"; variable: string };

export type SecretRefProblem =
  "invalid" | "not_found" | "outside_secrets_dir" | "not_a_file" | "empty" | "unset";

export class SecretRefError extends Error {
  override name = "SecretRefError";
  constructor(
    readonly problem: SecretRefProblem,
    message: string,
  ) {
    super(message);
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_SECRET_BYTES = 64 * 1024;

export function parseSecretRef(text: string): SecretRef {
  if (CONTROL_CHARS.test(text)) throw new SecretRefError("invalid", "secret ref contains control characters");
  if (text.startsWith("env:")) {
    const variable = text.slice(4);
    if (!ENV_NAME.test(variable)) {
      throw new SecretRefError(
        "invalid",
        `"${text}": an env: ref needs a variable name like env:GITHUB_TOKEN`,
      );
    }
    return { kind: "env", variable };
  }
  if (text.startsWith("file:")) {
    const name = text.slice(5);
    if (name === "") throw new SecretRefError("invalid", `"${text}": a file: ref needs a file name`);
    if (path.isAbsolute(name) || name.startsWith("~")) {
      throw new SecretRefError(
        "outside_secrets_dir",
        `"${text}": file: refs name a file inside <home>/secrets/, not an absolute path`,
      );
    }
    if (name.split(/[\\/]/).some((segment) => segment === "..")) {
      throw new SecretRefError("outside_secrets_dir", `"${text}": ".." is not allowed in a file: ref`);
    }
    return { kind: "file", name };
  }
  throw new SecretRefError("invalid", `"${text}" is not a secret ref; use file:<name> or env:<VAR>`);
}

export function formatSecretRef(ref: SecretRef): string {
  return ref.kind === "file" ? `file:${ref.name}` : `env:${ref.variable}`;
}

export function secretsDir(home: string): string {
  return path.join(home, "secrets");
}

function isInside(dir: string, target: string): boolean {
  const relative = path.relative(dir, target);
  const firstSegment = relative.split(path.sep)[0];
  return relative !== "" && firstSegment !== ".." && !path.isAbsolute(relative);
}

export interface ResolvedSecret {
  value: string;
  /** Set when a secret file can be read by group or others (it should be mode 0600). */
  looseMode: number | null;
}

/**
 * Reads a secret afresh (so rotating a file or variable takes effect without a restart).
 * Rejects refs that escape `<home>/secrets/` lexically or through symlinks.
 */
export async function resolveSecretRef(
  ref: SecretRef,
  home: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedSecret> {
  if (ref.kind === "env") {
    const value = env[ref.variable]?.trim();
    if (value === undefined)
      throw new SecretRefError("unset", `environment variable ${ref.variable} is not set`);
    if (value === "") throw new SecretRefError("empty", `environment variable ${ref.variable} is empty`);
    return { value, looseMode: null };
  }
  const dir = secretsDir(home);
  const display = `file:${ref.name}`;
  const lexical = path.resolve(dir, ref.name);
  if (!isInside(dir, lexical)) {
    throw new SecretRefError("outside_secrets_dir", `${display} resolves outside ${dir}`);
  }
  let realDir: string;
  let realTarget: string;
  try {
    await lstat(lexical);
    realDir = await realpath(dir);
    realTarget = await realpath(lexical);
  } catch {
    throw new SecretRefError("not_found", `${display}: no such file in ${dir}`);
  }
  if (!isInside(realDir, realTarget)) {
    throw new SecretRefError("outside_secrets_dir", `${display} is a symlink that points outside ${dir}`);
  }
  const info = await stat(realTarget);
  if (!info.isFile()) throw new SecretRefError("not_a_file", `${display} is not a regular file`);
  if (info.size > MAX_SECRET_BYTES)
    throw new SecretRefError("invalid", `${display} is too large to be a secret`);
  // O_NOFOLLOW: the checked path is the one read, even if someone swaps in a symlink meanwhile.
  const handle = await open(realTarget, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const value = (await handle.readFile("utf8")).trim();
    if (value === "") throw new SecretRefError("empty", `${display} is empty`);
    const looseMode = (info.mode & 0o077) !== 0 ? info.mode & 0o777 : null;
    return { value, looseMode };
  } finally {
    await handle.close();
  }
}
