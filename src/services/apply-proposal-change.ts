import { lstat, mkdir, readFile, realpath, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { applyParamEdits } from "../domain/params/edit-params.js";
import type { FilesChange, ParamsChange, ParamsFormat } from "../domain/proposal.js";
import { describeRepoPathProblem, repoPathProblem } from "../domain/repo-path.js";
import { WorkerFailure } from "./worker-failure.js";

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === "" || (relative.split(path.sep)[0] !== ".." && !path.isAbsolute(relative));
}

async function exists(target: string): Promise<boolean> {
  return lstat(target).then(
    () => true,
    () => false,
  );
}

/**
 * The absolute path of `relative` inside the clone, after checking it lexically and after
 * resolving symlinks of the deepest part that exists (SPEC C3 step 7: PATH_OUTSIDE_REPO).
 */
export async function resolveInsideClone(cloneDir: string, relative: string): Promise<string> {
  const problem = repoPathProblem(relative);
  if (problem) throw new WorkerFailure("PATH_OUTSIDE_REPO", describeRepoPathProblem(relative, problem));
  const root = await realpath(cloneDir);
  const lexical = path.resolve(root, relative);
  if (!isInside(root, lexical) || lexical === root) {
    throw new WorkerFailure(
      "PATH_OUTSIDE_REPO",
      `path ${JSON.stringify(relative)} is outside the repository`,
    );
  }
  let probe = lexical;
  while (!(await exists(probe))) probe = path.dirname(probe);
  const real = await realpath(probe).catch(() => null);
  const gitDir = path.join(root, ".git");
  if (real === null || !isInside(root, real) || isInside(gitDir, real)) {
    throw new WorkerFailure(
      "PATH_OUTSIDE_REPO",
      `path ${JSON.stringify(relative)} resolves outside the repository (through a symlink)`,
    );
  }
  return lexical;
}

function formatOf(change: ParamsChange): ParamsFormat {
  if (change.format) return change.format;
  const extension = path.extname(change.path).toLowerCase();
  if (extension === ".json") return "json";
  if (extension === ".yaml" || extension === ".yml") return "yaml";
  throw new WorkerFailure(
    "FILE_UNPARSABLE",
    `cannot tell the format of ${change.path} from its extension; set change.format to json or yaml`,
  );
}

/** Edits the values of a params proposal in place, keeping the file's formatting (SPEC C3). */
export async function applyParamsChange(
  cloneDir: string,
  change: ParamsChange,
): Promise<{ key: string; from: unknown; to: unknown }[]> {
  const target = await resolveInsideClone(cloneDir, change.path);
  const info = await stat(target).catch(() => null);
  if (!info)
    throw new WorkerFailure("PARAMS_FILE_NOT_FOUND", `${change.path} does not exist on the base branch`);
  if (!info.isFile())
    throw new WorkerFailure("PARAMS_FILE_NOT_FOUND", `${change.path} is not a regular file`);
  let text: string;
  try {
    text = await readFile(target, "utf8");
  } catch (error) {
    throw new WorkerFailure(
      "PARAMS_FILE_NOT_FOUND",
      `${change.path} cannot be read: ${(error as Error).message}`,
    );
  }
  const result = applyParamEdits(text, formatOf(change), change.set);
  if (!result.ok) throw new WorkerFailure(result.code, `${change.path}: ${result.message}`);
  if (result.text !== text) await writeFile(target, result.text, { mode: info.mode & 0o777 });
  return result.changes;
}

/** Writes and deletes the files of a files proposal. */
export async function applyFilesChange(cloneDir: string, change: FilesChange): Promise<void> {
  for (const file of change.files) {
    const target = await resolveInsideClone(cloneDir, file.path);
    const info = await lstat(target).catch(() => null);
    if ("delete" in file) {
      if (!info)
        throw new WorkerFailure("PARAMS_FILE_NOT_FOUND", `${file.path} cannot be deleted: it does not exist`);
      if (info.isDirectory())
        throw new WorkerFailure("PARAMS_FILE_NOT_FOUND", `${file.path} is a directory, not a file`);
      await unlink(target);
      continue;
    }
    if (info?.isDirectory())
      throw new WorkerFailure("PARAMS_FILE_NOT_FOUND", `${file.path} is a directory, not a file`);
    await mkdir(path.dirname(target), { recursive: true });
    // The parent chain may have been created just now: check containment once more.
    await resolveInsideClone(cloneDir, file.path);
    await writeFile(target, file.content);
  }
}
