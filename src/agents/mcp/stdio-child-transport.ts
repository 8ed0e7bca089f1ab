import { spawn, type ChildProcess } from "node:child_process";
import { stat } from "node:fs/promises";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/**
 * The MCP stdio transport, written here rather than taken from the SDK because the SDK's
 * `StdioClientTransport` lets the child inherit HOME, USER, SHELL… and cannot kill grandchildren.
 * This one gives the child exactly the configured env plus PATH, keeps only the tail of its stderr,
 * runs it as the leader of its own process group (so `npx`-style launchers die with it), and
 * resolves `close()` only once the process has exited.
 */

/** How much of the child's stderr is kept for error messages. */
export const STDERR_TAIL_BYTES = 4096;

/** Shutdown per the MCP spec: close stdin, wait, SIGTERM, wait, SIGKILL. */
const SHUTDOWN_GRACE_MS = 2_000;
/** SIGKILL cannot be refused; this only bounds a process stuck in the kernel. */
const KILL_WAIT_MS = 5_000;

export interface StdioChildOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
}

/** A send that did not reach the child (it had exited, or closed its stdin): safe to send again elsewhere. */
export class StdioSendError extends Error {
  override name = "StdioSendError";
}

/** The child's environment: exactly `env`, plus our PATH when `env` has none. Nothing else is inherited. */
export function childEnvironment(env: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = { ...env };
  if (out.PATH === undefined && process.env.PATH !== undefined) out.PATH = process.env.PATH;
  return out;
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export class StdioChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #options: StdioChildOptions;
  readonly #readBuffer = new ReadBuffer();
  #child: ChildProcess | null = null;
  #stderr: Buffer = Buffer.alloc(0);
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  #exited: Promise<void> = Promise.resolve();
  #streamsClosed: Promise<void> = Promise.resolve();
  #closeNotified = false;
  #closing: Promise<void> | null = null;

  constructor(options: StdioChildOptions) {
    this.#options = options;
  }

  /** The child's pid once started (also after it exited), else null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Started and not exited: a message sent now reaches a live process. */
  get alive(): boolean {
    return this.#child?.pid !== undefined && this.#exit === null;
  }

  /** "exited with code 1", "was killed by SIGKILL", or null while running. */
  get exitDescription(): string | null {
    if (this.#exit === null) return null;
    return this.#exit.signal === null
      ? `exited with code ${String(this.#exit.code)}`
      : `was killed by ${this.#exit.signal}`;
  }

  /** The last STDERR_TAIL_BYTES of the child's stderr. */
  stderrTail(): string {
    return this.#stderr.toString("utf8");
  }

  async start(): Promise<void> {
    if (this.#child !== null) throw new Error("StdioChildTransport already started");
    const { command, args, cwd, env } = this.#options;
    // spawn() reports a missing cwd as "spawn <command> ENOENT", which blames the command.
    const cwdIsDirectory = await stat(cwd).then(
      (info) => info.isDirectory(),
      () => false,
    );
    if (!cwdIsDirectory) throw new Error(`working directory ${cwd} does not exist`);

    const child = spawn(command, [...args], {
      cwd,
      env: childEnvironment(env),
      stdio: ["pipe", "pipe", "pipe"],
      shell: false,
      // Its own process group: close() and a crash clean up whatever the server started.
      detached: true,
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { code, signal };
        this.#killGroup("SIGKILL");
        resolve();
      });
    });
    this.#streamsClosed = new Promise((resolve) => child.once("close", () => resolve()));
    // After the process and its pipes are gone: responses it wrote before exiting are read first.
    child.once("close", () => this.#notifyClose());

    child.stdout?.on("data", (chunk: Buffer) => {
      try {
        this.#readBuffer.append(chunk);
      } catch (error) {
        // A single message beyond the buffer limit: the stream cannot be resynchronised.
        this.onerror?.(error as Error);
        void this.close();
        return;
      }
      this.#drainMessages();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      const joined = Buffer.concat([this.#stderr, chunk]);
      this.#stderr =
        joined.length > STDERR_TAIL_BYTES ? Buffer.from(joined.subarray(-STDERR_TAIL_BYTES)) : joined;
    });
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      stream?.on("error", (error) => this.onerror?.(error));
    }

    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => {
        child.on("error", (error) => this.onerror?.(error));
        resolve();
      });
      child.once("error", (error) => {
        if (child.pid === undefined) reject(error);
      });
    });
  }

  #drainMessages(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#readBuffer.readMessage();
      } catch (error) {
        // A line that is not JSON-RPC (a server logging to stdout): reported, then skipped.
        this.onerror?.(error as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (!this.alive || !stdin || stdin.destroyed || !stdin.writable) {
      throw new StdioSendError("the MCP server process is not running");
    }
    await new Promise<void>((resolve, reject) => {
      stdin.write(serializeMessage(message), (error) => {
        if (error) reject(new StdioSendError(`writing to the MCP server failed: ${error.message}`));
        else resolve();
      });
    });
  }

  /** Idempotent; resolves once the child has exited and its process group is gone. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const child = this.#child;
    if (child?.pid !== undefined && this.#exit === null) {
      child.stdin?.end();
      if (!(await this.#waitForExit(SHUTDOWN_GRACE_MS))) {
        this.#killGroup("SIGTERM");
        if (!(await this.#waitForExit(SHUTDOWN_GRACE_MS))) {
          this.#killGroup("SIGKILL");
          await this.#waitForExit(KILL_WAIT_MS);
        }
      }
    }
    if (child?.pid !== undefined) {
      // The exit handler has already killed what was left of the group; the pipes close after it.
      const wait = delay(SHUTDOWN_GRACE_MS);
      await Promise.race([this.#streamsClosed, wait.promise]);
      wait.cancel();
    }
    this.#readBuffer.clear();
    this.#notifyClose();
  }

  async #waitForExit(ms: number): Promise<boolean> {
    if (this.#exit !== null) return true;
    const wait = delay(ms);
    await Promise.race([this.#exited, wait.promise]);
    wait.cancel();
    return this.#exit !== null;
  }

  /** Signals the whole group; a group that no longer exists is what we want. */
  #killGroup(signal: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: nothing left in the group.
    }
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.onclose?.();
  }
}
