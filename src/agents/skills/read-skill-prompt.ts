import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import path from "node:path";

/** A prompt larger than this is almost surely the wrong file, and would eat the context window. */
export const MAX_PROMPT_BYTES = 256 * 1024;

export type PromptRead = { ok: true; file: string; text: string } | { ok: false; message: string };

function isInside(dir: string, target: string): boolean {
  const relative = path.relative(dir, target);
  return relative !== "" && relative.split(path.sep)[0] !== ".." && !path.isAbsolute(relative);
}

/**
 * Reads one prompt file named in skill.yaml. Packs come from outside, so the path must stay
 * inside the pack directory both as written and after symlinks are resolved (`realDir` is the
 * pack directory's realpath). Never throws for a bad file: the caller reports it at its entry.
 */
export async function readSkillPrompt(dir: string, realDir: string, written: string): Promise<PromptRead> {
  const shown = JSON.stringify(written);
  if (written.includes("\u0000")) return { ok: false, message: `prompt ${shown} is not a valid path` };
  if (path.isAbsolute(written) || written.startsWith("~")) {
    return { ok: false, message: `prompt ${shown} must be a path relative to the pack directory` };
  }
  if (path.extname(written).toLowerCase() !== ".md") {
    return { ok: false, message: `prompt ${shown} is not a Markdown (.md) file` };
  }
  const file = path.resolve(dir, written);
  if (!isInside(dir, file)) return { ok: false, message: `prompt ${shown} is outside the pack directory` };

  let real: string;
  try {
    real = await realpath(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" || code === "ENOTDIR" ? "not found" : "cannot be read";
    return { ok: false, message: `prompt file ${shown} ${reason}` };
  }
  if (!isInside(realDir, real)) {
    return { ok: false, message: `prompt ${shown} is a symlink that resolves outside the pack directory` };
  }
  // Checked before opening: opening a FIFO or device for reading could block or never end.
  const info = await stat(real).catch(() => null);
  if (!info?.isFile()) return { ok: false, message: `prompt ${shown} is not a regular file` };

  let bytes: Buffer;
  try {
    // O_NOFOLLOW | O_NONBLOCK: the checked file is the one read, even if it is swapped meanwhile.
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      // Reads at most one byte more than allowed: enough to refuse a bigger file without reading it all.
      const buffer = Buffer.alloc(MAX_PROMPT_BYTES + 1);
      let length = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (length === buffer.length) break;
      }
      bytes = buffer.subarray(0, length);
    } finally {
      await handle.close();
    }
  } catch {
    return { ok: false, message: `prompt file ${shown} cannot be read` };
  }
  if (bytes.length > MAX_PROMPT_BYTES) {
    return { ok: false, message: `prompt ${shown} is larger than ${MAX_PROMPT_BYTES / 1024} KiB` };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, message: `prompt ${shown} is not UTF-8 text` };
  }
  if (text.trim() === "") return { ok: false, message: `prompt ${shown} is empty` };
  return { ok: true, file, text };
}
