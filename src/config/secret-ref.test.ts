import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  formatSecretRef,
  parseSecretRef,
  resolveSecretRef,
  SecretRefError,
  secretsDir,
  type SecretRef,
  type SecretRefProblem,
} from "./secret-ref.js";

function parseFailure(text: string): SecretRefError {
  try {
    parseSecretRef(text);
  } catch (error) {
    if (error instanceof SecretRefError) return error;
    throw error;
  }
  throw new Error(`expected parseSecretRef(${JSON.stringify(text)}) to throw`);
}

async function resolveFailure(
  ref: SecretRef,
  home: string,
  env: NodeJS.ProcessEnv = {},
): Promise<SecretRefError> {
  try {
    await resolveSecretRef(ref, home, env);
  } catch (error) {
    if (error instanceof SecretRefError) return error;
    throw error;
  }
  throw new Error(`expected resolveSecretRef(${formatSecretRef(ref)}) to throw`);
}

describe("parseSecretRef: accepted", () => {
  it.each([
    { text: "file:github-token", ref: { kind: "file", name: "github-token" } },
    { text: "file:repos/octo/hello.token", ref: { kind: "file", name: "repos/octo/hello.token" } },
    { text: "file:./token", ref: { kind: "file", name: "./token" } },
    { text: "file:..token", ref: { kind: "file", name: "..token" } },
    { text: "file:a..b", ref: { kind: "file", name: "a..b" } },
    { text: "env:GITHUB_TOKEN", ref: { kind: "env", variable: "GITHUB_TOKEN" } },
    { text: "env:_private", ref: { kind: "env", variable: "_private" } },
    { text: "env:token2", ref: { kind: "env", variable: "token2" } },
  ] as const)("$text", ({ text, ref }) => {
    expect(parseSecretRef(text)).toEqual(ref);
    expect(formatSecretRef(parseSecretRef(text))).toBe(text);
  });
});

describe("parseSecretRef: refused", () => {
  it.each<{ text: string; problem: SecretRefProblem; message: string }>([
    {
      text: "",
      problem: "invalid",
      message: '"" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: "ghp_abcdef",
      problem: "invalid",
      message: '"ghp_abcdef" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: "FILE:token",
      problem: "invalid",
      message: '"FILE:token" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: "Env:TOKEN",
      problem: "invalid",
      message: '"Env:TOKEN" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: " file:token",
      problem: "invalid",
      message: '" file:token" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: "vault:secret/data/x",
      problem: "invalid",
      message: '"vault:secret/data/x" is not a secret ref; use file:<name> or env:<VAR>',
    },
    {
      text: "file:",
      problem: "invalid",
      message: '"file:": a file: ref needs a file name',
    },
    {
      text: "env:",
      problem: "invalid",
      message: '"env:": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
    {
      text: "env:1TOKEN",
      problem: "invalid",
      message: '"env:1TOKEN": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
    {
      text: "env:GITHUB-TOKEN",
      problem: "invalid",
      message: '"env:GITHUB-TOKEN": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
    {
      text: "env:MY TOKEN",
      problem: "invalid",
      message: '"env:MY TOKEN": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
    {
      text: "env:$HOME",
      problem: "invalid",
      message: '"env:$HOME": an env: ref needs a variable name like env:GITHUB_TOKEN',
    },
    {
      text: "file:/etc/shadow",
      problem: "outside_secrets_dir",
      message: '"file:/etc/shadow": file: refs name a file inside <home>/secrets/, not an absolute path',
    },
    {
      text: "file:~/token",
      problem: "outside_secrets_dir",
      message: '"file:~/token": file: refs name a file inside <home>/secrets/, not an absolute path',
    },
    {
      text: "file:..",
      problem: "outside_secrets_dir",
      message: '"file:..": ".." is not allowed in a file: ref',
    },
    {
      text: "file:../admin.token",
      problem: "outside_secrets_dir",
      message: '"file:../admin.token": ".." is not allowed in a file: ref',
    },
    {
      text: "file:a/../../b",
      problem: "outside_secrets_dir",
      message: '"file:a/../../b": ".." is not allowed in a file: ref',
    },
    {
      text: "file:a/../b",
      problem: "outside_secrets_dir",
      message: '"file:a/../b": ".." is not allowed in a file: ref',
    },
    {
      text: "file:a\\..\\b",
      problem: "outside_secrets_dir",
      message: '"file:a\\..\\b": ".." is not allowed in a file: ref',
    },
    {
      text: "file:tok\nen",
      problem: "invalid",
      message: "secret ref contains control characters",
    },
    {
      text: "file:token\u0000.txt",
      problem: "invalid",
      message: "secret ref contains control characters",
    },
    {
      text: "env:TOKEN\r",
      problem: "invalid",
      message: "secret ref contains control characters",
    },
    {
      text: "env:\tTOKEN",
      problem: "invalid",
      message: "secret ref contains control characters",
    },
    {
      text: "file:tok\u007fen",
      problem: "invalid",
      message: "secret ref contains control characters",
    },
  ])("$text → $problem", ({ text, problem, message }) => {
    const error = parseFailure(text);
    expect(error.name).toBe("SecretRefError");
    expect(error.problem).toBe(problem);
    expect(error.message).toBe(message);
  });
});

describe("secretsDir", () => {
  it("is <home>/secrets", () => {
    expect(secretsDir("/var/lib/shepherd")).toBe(path.join("/var/lib/shepherd", "secrets"));
  });
});

describe("resolveSecretRef: file refs", () => {
  let home: string;
  let secrets: string;
  let outside: string;

  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "shepherd-secret-ref-"));
    secrets = path.join(home, "secrets");
    outside = path.join(home, "outside");
    await mkdir(secrets, { mode: 0o700 });
    await mkdir(outside);
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  async function secretFile(relative: string, content: string, mode = 0o600): Promise<string> {
    const file = path.join(secrets, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    await chmod(file, mode);
    return file;
  }

  it.each([
    { name: "token", content: "ghp_value", value: "ghp_value" },
    { name: "token", content: "  ghp_value \n", value: "ghp_value" },
    { name: "token", content: "\n\nline one\nline two\r\n", value: "line one\nline two" },
    { name: "repos/octo/hello.token", content: "nested-value\n", value: "nested-value" },
    { name: "./dot-slash", content: "dotted\n", value: "dotted" },
  ])("reads $name (content $content) trimmed", async ({ name, content, value }) => {
    await secretFile(name, content);
    await expect(resolveSecretRef(parseSecretRef(`file:${name}`), home, {})).resolves.toEqual({
      value,
      looseMode: null,
    });
  });

  it.each([
    { mode: 0o600, looseMode: null },
    { mode: 0o400, looseMode: null },
    { mode: 0o644, looseMode: 0o644 },
    { mode: 0o640, looseMode: 0o640 },
    { mode: 0o604, looseMode: 0o604 },
    { mode: 0o660, looseMode: 0o660 },
  ])("mode $mode → looseMode $looseMode", async ({ mode, looseMode }) => {
    await secretFile("token", "value", mode);
    const resolved = await resolveSecretRef({ kind: "file", name: "token" }, home, {});
    expect(resolved).toEqual({ value: "value", looseMode });
  });

  it("reads the file afresh on every call (rotation without a restart)", async () => {
    await secretFile("token", "first-value");
    expect((await resolveSecretRef({ kind: "file", name: "token" }, home, {})).value).toBe("first-value");
    await secretFile("token", "second-value");
    expect((await resolveSecretRef({ kind: "file", name: "token" }, home, {})).value).toBe("second-value");
  });

  it("a missing file → not_found", async () => {
    const error = await resolveFailure({ kind: "file", name: "missing" }, home);
    expect(error.problem).toBe("not_found");
    expect(error.message).toBe(`file:missing: no such file in ${secrets}`);
  });

  it("a missing secrets directory → not_found", async () => {
    await rm(secrets, { recursive: true });
    const error = await resolveFailure({ kind: "file", name: "token" }, home);
    expect(error.problem).toBe("not_found");
    expect(error.message).toBe(`file:token: no such file in ${secrets}`);
  });

  it("a directory → not_a_file", async () => {
    await mkdir(path.join(secrets, "a-dir"));
    const error = await resolveFailure({ kind: "file", name: "a-dir" }, home);
    expect(error.problem).toBe("not_a_file");
    expect(error.message).toBe("file:a-dir is not a regular file");
  });

  it.each(["", "   ", "\n\n", " \t\r\n "])("an empty or blank file (%j) → empty", async (content) => {
    await secretFile("blank", content);
    const error = await resolveFailure({ kind: "file", name: "blank" }, home);
    expect(error.problem).toBe("empty");
    expect(error.message).toBe("file:blank is empty");
  });

  it("a file larger than 64 KiB → invalid", async () => {
    await secretFile("huge", "x".repeat(64 * 1024 + 1));
    const error = await resolveFailure({ kind: "file", name: "huge" }, home);
    expect(error.problem).toBe("invalid");
    expect(error.message).toBe("file:huge is too large to be a secret");
  });

  it("a symlink inside secrets/ pointing to a file outside → outside_secrets_dir", async () => {
    const target = path.join(outside, "stolen");
    await writeFile(target, "not-for-you\n", { mode: 0o600 });
    await symlink(target, path.join(secrets, "link"));
    const error = await resolveFailure({ kind: "file", name: "link" }, home);
    expect(error.problem).toBe("outside_secrets_dir");
    expect(error.message).toBe(`file:link is a symlink that points outside ${secrets}`);
    expect(error.message).not.toContain("not-for-you");
  });

  it("a relative symlink climbing out of secrets/ → outside_secrets_dir", async () => {
    await writeFile(path.join(home, "admin.token"), "admin-secret\n", { mode: 0o600 });
    await symlink("../admin.token", path.join(secrets, "admin"));
    const error = await resolveFailure({ kind: "file", name: "admin" }, home);
    expect(error.problem).toBe("outside_secrets_dir");
    expect(error.message).toBe(`file:admin is a symlink that points outside ${secrets}`);
  });

  it("a symlinked directory inside secrets/ pointing outside → outside_secrets_dir", async () => {
    await writeFile(path.join(outside, "token"), "outside-value\n", { mode: 0o600 });
    await symlink(outside, path.join(secrets, "sub"));
    const error = await resolveFailure({ kind: "file", name: "sub/token" }, home);
    expect(error.problem).toBe("outside_secrets_dir");
    expect(error.message).toBe(`file:sub/token is a symlink that points outside ${secrets}`);
  });

  it("a symlink pointing to the secrets directory itself → outside_secrets_dir", async () => {
    await symlink(".", path.join(secrets, "self"));
    const error = await resolveFailure({ kind: "file", name: "self" }, home);
    expect(error.problem).toBe("outside_secrets_dir");
  });

  it("a dangling symlink → not_found", async () => {
    await symlink(path.join(secrets, "nowhere"), path.join(secrets, "dangling"));
    const error = await resolveFailure({ kind: "file", name: "dangling" }, home);
    expect(error.problem).toBe("not_found");
    expect(error.message).toBe(`file:dangling: no such file in ${secrets}`);
  });

  it.each([
    { link: "alias", target: "real-token" },
    { link: "alias", target: "nested/real-token" },
    { link: "nested/alias", target: "../real-token" },
  ])("a symlink $link → $target inside secrets/ is accepted", async ({ link, target }) => {
    const linkPath = path.join(secrets, link);
    const targetPath = path.resolve(path.dirname(linkPath), target);
    await mkdir(path.dirname(targetPath), { recursive: true });
    await writeFile(targetPath, " inner-value\n");
    await chmod(targetPath, 0o600);
    await mkdir(path.dirname(linkPath), { recursive: true });
    await symlink(target, linkPath);
    await expect(resolveSecretRef({ kind: "file", name: link }, home, {})).resolves.toEqual({
      value: "inner-value",
      looseMode: null,
    });
  });

  it("a symlink inside secrets/ reports the target's loose mode", async () => {
    await secretFile("real", "value", 0o644);
    await symlink("real", path.join(secrets, "alias"));
    const resolved = await resolveSecretRef({ kind: "file", name: "alias" }, home, {});
    expect(resolved).toEqual({ value: "value", looseMode: 0o644 });
  });

  it("works when home itself is reached through a symlink", async () => {
    await secretFile("token", "via-link");
    const linkedHome = path.join(outside, "home-link");
    await symlink(home, linkedHome);
    await expect(resolveSecretRef({ kind: "file", name: "token" }, linkedHome, {})).resolves.toEqual({
      value: "via-link",
      looseMode: null,
    });
  });

  it("refuses a name that resolves to the secrets directory itself", async () => {
    const error = await resolveFailure({ kind: "file", name: "." }, home);
    expect(error.problem).toBe("outside_secrets_dir");
    expect(error.message).toBe(`file:. resolves outside ${secrets}`);
  });

  it("refuses a hand-built ref that escapes lexically (bypassing parseSecretRef)", async () => {
    await writeFile(path.join(home, "admin.token"), "admin-secret\n", { mode: 0o600 });
    const error = await resolveFailure({ kind: "file", name: "../admin.token" }, home);
    expect(error.problem).toBe("outside_secrets_dir");
    expect(error.message).toBe(`file:../admin.token resolves outside ${secrets}`);
  });

  // parseSecretRef accepts "file:..token" (the segment is not ".."), and the file is inside
  // <home>/secrets/, so resolving it must succeed.
  it("reads a file whose name merely starts with '..' (e.g. ..token)", async () => {
    await secretFile("..token", "dotdot-value\n");
    await expect(resolveSecretRef(parseSecretRef("file:..token"), home, {})).resolves.toEqual({
      value: "dotdot-value",
      looseMode: null,
    });
  });
});

describe("resolveSecretRef: env refs", () => {
  const home = path.join(os.tmpdir(), "shepherd-env-ref-unused-home");

  it.each([
    { env: { GITHUB_TOKEN: "ghp_value" }, value: "ghp_value" },
    { env: { GITHUB_TOKEN: "  ghp_value\n" }, value: "ghp_value" },
    { env: { GITHUB_TOKEN: "a b c", OTHER: "x" }, value: "a b c" },
  ])("env:GITHUB_TOKEN with $env → $value", async ({ env, value }) => {
    await expect(resolveSecretRef({ kind: "env", variable: "GITHUB_TOKEN" }, home, env)).resolves.toEqual({
      value,
      looseMode: null,
    });
  });

  it.each<{ env: NodeJS.ProcessEnv; problem: SecretRefProblem; message: string }>([
    {
      env: {},
      problem: "unset",
      message: "environment variable GITHUB_TOKEN is not set",
    },
    {
      env: { github_token: "lower-case-is-another-variable" },
      problem: "unset",
      message: "environment variable GITHUB_TOKEN is not set",
    },
    {
      env: { GITHUB_TOKEN: "" },
      problem: "empty",
      message: "environment variable GITHUB_TOKEN is empty",
    },
    {
      env: { GITHUB_TOKEN: " \n\t " },
      problem: "empty",
      message: "environment variable GITHUB_TOKEN is empty",
    },
  ])("env:GITHUB_TOKEN with $env → $problem", async ({ env, problem, message }) => {
    const error = await resolveFailure({ kind: "env", variable: "GITHUB_TOKEN" }, home, env);
    expect(error.problem).toBe(problem);
    expect(error.message).toBe(message);
  });

  it("reads the env object it is given, not process.env", async () => {
    const variable = Object.keys(process.env).find((name) => (process.env[name] ?? "").trim() !== "");
    expect(variable).toBeDefined();
    const error = await resolveFailure({ kind: "env", variable: variable as string }, home, {});
    expect(error.problem).toBe("unset");
  });
});
