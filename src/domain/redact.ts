/**
 * Secret redaction. Pure: the caller owns the set of known secret values and passes text or
 * values through `redact`/`redactDeep` before they leave the process (logs, events, API, GitHub).
 */

export const REDACTED = "[REDACTED]";

/** Token shapes that are always secret, whether or not we know the value. */
export const SECRET_PATTERNS: readonly RegExp[] = [
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /gh[opsur]_[A-Za-z0-9]{36,}/g,
  // Shepherd's own API tokens (see services/token-service.ts for the format).
  /shp_[A-Za-z0-9]{32,}/g,
];

/** All token shapes in one pattern: one pass over the text instead of one per shape. */
const SHAPES = new RegExp(SECRET_PATTERNS.map((pattern) => pattern.source).join("|"), "g");

/** Shorter values are not redacted by value: they would mangle ordinary text. */
export const MIN_KNOWN_SECRET_LENGTH = 6;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The forms a secret takes once it has been embedded in JSON or a URL. */
function encodedForms(secret: string): string[] {
  const forms = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
  try {
    forms.add(encodeURIComponent(secret));
  } catch {
    // A lone surrogate has no URL form; the other forms still apply.
  }
  return [...forms];
}

export class SecretRedactor {
  readonly #known = new Set<string>();
  #knownPattern: RegExp | null = null;

  /** Remembers a secret value so that it is redacted wherever it appears from now on. */
  add(secret: string): void {
    const trimmed = secret.trim();
    if (trimmed.length < MIN_KNOWN_SECRET_LENGTH) return;
    let changed = false;
    for (const form of encodedForms(trimmed)) {
      if (!this.#known.has(form)) {
        this.#known.add(form);
        changed = true;
      }
    }
    if (changed) this.#knownPattern = null;
  }

  get knownCount(): number {
    return this.#known.size;
  }

  redact(text: string): string {
    let out = text;
    const known = this.#pattern();
    if (known) out = out.replace(known, REDACTED);
    return out.replace(SHAPES, REDACTED);
  }

  /** Returns a copy of `value` with every string (keys included) redacted. */
  redactDeep<T>(value: T): T {
    return this.#deep(value, new WeakMap()) as T;
  }

  #deep(value: unknown, seen: WeakMap<object, unknown>): unknown {
    if (typeof value === "string") return this.redact(value);
    if (value === null || typeof value !== "object") return value;
    // Values that hold no text of their own are kept as they are.
    if (value instanceof Date || ArrayBuffer.isView(value)) return value;
    const prior = seen.get(value);
    if (prior !== undefined) return prior;
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      seen.set(value, copy);
      for (const item of value) copy.push(this.#deep(item, seen));
      return copy;
    }
    if (value instanceof Error) {
      const copy = new Error(this.redact(value.message));
      copy.name = value.name;
      copy.stack = value.stack === undefined ? undefined : this.redact(value.stack);
      seen.set(value, copy);
      return copy;
    }
    const copy: Record<string, unknown> = {};
    seen.set(value, copy);
    for (const [key, item] of Object.entries(value)) copy[this.redact(key)] = this.#deep(item, seen);
    return copy;
  }

  #pattern(): RegExp | null {
    if (this.#known.size === 0) return null;
    if (!this.#knownPattern) {
      // Longest first, so a secret that contains another is removed whole.
      const alternatives = [...this.#known].sort((a, b) => b.length - a.length).map(escapeRegExp);
      this.#knownPattern = new RegExp(alternatives.join("|"), "g");
    }
    return this.#knownPattern;
  }
}
