/**
 * The turn envelope (SPEC C6): every agent turn ends with `{content, confidence ∈ [0,1],
 * rationale, signal?}`. Models are asked for JSON; prose with markdown sections is accepted as a
 * recovery (`recovered: true`), so the caller can count how often a model strays.
 *
 * Nothing is clamped or guessed: a confidence outside [0,1], a confidence that is not a number or
 * a signal that is not a valid name is an error the caller can send back to the model.
 */

export interface TurnEnvelope {
  content: string;
  confidence: number;
  rationale: string;
  /** Lower case, matching `SIGNAL_PATTERN`; null when the turn sends none. */
  signal: string | null;
}

export type EnvelopeParse =
  { ok: true; envelope: TurnEnvelope; recovered: boolean } | { ok: false; error: string };

export const SIGNAL_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

/** What the system prompt tells the model about ending its turn. */
export const ENVELOPE_INSTRUCTIONS = [
  "When you have finished this turn (no more tool calls), reply with one JSON object and nothing else:",
  '{"content": "<your answer or summary>", "confidence": <a number from 0 to 1>, "rationale": "<why you are this confident>", "signal": "<a signal name, or null>"}',
  "- confidence is a number between 0 and 1 (0.8, not 80%), your honest estimate that the answer is right.",
  '- signal is optional: use one only when your instructions name signals (lower_snake_case, e.g. "success"); otherwise null.',
].join("\n");

type Fields = { content: unknown; confidence: unknown; rationale: unknown; signal: unknown };
type Checked = { ok: true; envelope: TurnEnvelope } | { ok: false; error: string };

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}

function checkSignal(value: unknown): { ok: true; signal: string | null } | { ok: false; error: string } {
  if (value === undefined || value === null) return { ok: true, signal: null };
  if (typeof value !== "string") return fail(`signal must be a string or null, got ${shown(value)}`);
  const signal = value.trim().toLowerCase();
  if (!SIGNAL_PATTERN.test(signal)) {
    return fail(
      `signal ${shown(value)} is not a valid signal name (a letter, then letters, digits or _, at most 32)`,
    );
  }
  return { ok: true, signal };
}

function checkFields(fields: Fields): Checked {
  const missing = (["content", "confidence", "rationale"] as const).filter(
    (key) => fields[key] === undefined,
  );
  if (missing.length > 0) return fail(`the envelope is missing ${missing.join(", ")}`);
  if (typeof fields.content !== "string")
    return fail(`content must be a string, got ${shown(fields.content)}`);
  if (fields.content.trim() === "") return fail("content is empty");
  if (typeof fields.confidence !== "number" || !Number.isFinite(fields.confidence)) {
    return fail(`confidence must be a number from 0 to 1, got ${shown(fields.confidence)}`);
  }
  if (fields.confidence < 0 || fields.confidence > 1) {
    return fail(`confidence must be from 0 to 1, got ${fields.confidence}`);
  }
  if (typeof fields.rationale !== "string") {
    return fail(`rationale must be a string, got ${shown(fields.rationale)}`);
  }
  if (fields.rationale.trim() === "") return fail("rationale is empty");
  const signal = checkSignal(fields.signal);
  if (!signal.ok) return signal;
  return {
    ok: true,
    envelope: {
      content: fields.content.trim(),
      confidence: fields.confidence,
      rationale: fields.rationale.trim(),
      signal: signal.signal,
    },
  };
}

function fromJsonObject(value: unknown): Checked {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail(`the reply is JSON but not an object (got ${shown(value)})`);
  }
  const object = value as Record<string, unknown>;
  return checkFields({
    content: object.content,
    confidence: object.confidence,
    rationale: object.rationale,
    signal: object.signal,
  });
}

type JsonAttempt = { ok: true; value: unknown } | { ok: false; error: string };

function parseJson(text: string): JsonAttempt {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

interface Fence {
  body: string;
  /** The fence is the whole reply (nothing but whitespace around it). */
  whole: boolean;
}

/** ```json blocks, and unlabelled ``` blocks that hold an object. */
function jsonFences(text: string): Fence[] {
  const fences: Fence[] = [];
  const pattern = /```[ \t]*([A-Za-z0-9_-]*)[^\n]*\n([\s\S]*?)```/g;
  for (const match of text.matchAll(pattern)) {
    const language = (match[1] ?? "").toLowerCase();
    const body = match[2] ?? "";
    if (language === "json" || (language === "" && body.trim().startsWith("{"))) {
      fences.push({ body, whole: match[0].trim() === text.trim() });
    }
  }
  return fences;
}

type SectionName = "response" | "content" | "confidence" | "rationale" | "signal";
const HEADING = /^\s{0,3}#{1,6}[ \t]*(response|content|confidence|rationale|signal)[ \t]*:?[ \t]*#*[ \t]*$/i;

type Sections = { ok: true; sections: Map<SectionName, string> } | { ok: false; error: string };

/** Markdown sections by known heading; other headings (and fenced code) stay inside a section. */
function splitSections(text: string): Sections {
  const sections = new Map<SectionName, string[]>();
  let current: string[] | null = null;
  let inFence = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s{0,3}(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : HEADING.exec(line);
    if (heading) {
      const name = (heading[1] ?? "").toLowerCase() as SectionName;
      if (sections.has(name)) return fail(`the ## ${name} section appears more than once`);
      current = [];
      sections.set(name, current);
    } else {
      current?.push(line);
    }
  }
  return {
    ok: true,
    sections: new Map([...sections].map(([name, lines]) => [name, lines.join("\n").trim()])),
  };
}

/** `0.8`, `0.8 — because …` (any dash), `80%`, `**0.8**`. */
const CONFIDENCE_LINE = /^[*_`]*(\d+(?:\.\d+)?|\.\d+)[ \t]*(%)?[*_`]*(?:[ \t]*(?:[-–—:]+[ \t]*)?(.*))?$/;

function fromSections(sections: Map<SectionName, string>): Checked {
  const response = sections.get("response");
  const contentSection = sections.get("content");
  if (response !== undefined && contentSection !== undefined) {
    return fail("give either ## Response or ## Content, not both");
  }
  const content = response ?? contentSection;
  const confidenceText = sections.get("confidence");
  const missing: string[] = [];
  if (content === undefined || content === "") missing.push("## Response");
  if (confidenceText === undefined || confidenceText === "") missing.push("## Confidence");
  if (missing.length > 0)
    return fail(`the reply has no JSON envelope and its sections lack ${missing.join(" and ")}`);

  const [firstLine = "", ...moreLines] = (confidenceText ?? "").split("\n");
  const match = CONFIDENCE_LINE.exec(firstLine.trim());
  if (!match) {
    return fail(
      `## Confidence must start with a number from 0 to 1 or a percentage, got ${shown(firstLine.trim())}`,
    );
  }
  const figure = Number(match[1]);
  const confidence = match[2] === "%" ? figure / 100 : figure;
  if (confidence < 0 || confidence > 1) {
    return fail(`confidence must be from 0 to 1, got ${match[1]}${match[2] ?? ""}`);
  }
  const inlineReason = [match[3] ?? "", ...moreLines].join("\n").trim();
  const rationale = sections.get("rationale") || inlineReason;
  if (rationale === "") return fail("the reply has no rationale: add a ## Rationale section");

  const signalText = sections.get("signal");
  const signalWord = (signalText?.split("\n")[0] ?? "").replace(/^[\s*_`"']+|[\s*_`"'.]+$/g, "");
  // In prose "none" is how a model writes "no signal"; JSON has null for that.
  const signalValue = signalWord === "" || /^(none|null)$/i.test(signalWord) ? null : signalWord;
  return checkFields({ content, confidence, rationale, signal: signalValue });
}

/** An object with at least one envelope key: a JSON sample inside the content is not one. */
function envelopeLike(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  return ["content", "confidence", "rationale"].some((key) => key in value);
}

/** A bare JSON object closing a reply that starts with prose (from a line that opens with `{`). */
function trailingObject(text: string): unknown {
  const lines = text.split("\n");
  for (let start = lines.length - 1; start > 0; start -= 1) {
    if (!(lines[start] ?? "").trimStart().startsWith("{")) continue;
    const parsed = parseJson(lines.slice(start).join("\n").trim());
    if (parsed.ok && envelopeLike(parsed.value)) return parsed.value;
  }
  return undefined;
}

export function parseTurnEnvelope(text: string): EnvelopeParse {
  const trimmed = text.trim();
  if (trimmed === "") return fail("the reply is empty: expected the JSON envelope");

  // 1. The whole reply is the JSON object, or a fenced JSON block is.
  const whole = parseJson(trimmed);
  if (whole.ok) return withRecovered(fromJsonObject(whole.value), false);
  const fences = jsonFences(trimmed).map((fence) => ({ ...fence, parsed: parseJson(fence.body.trim()) }));
  // The envelope ends the turn: the last envelope-like block is the one that counts.
  const fence = fences.findLast((candidate) => candidate.parsed.ok && envelopeLike(candidate.parsed.value));
  if (fence?.parsed.ok) return withRecovered(fromJsonObject(fence.parsed.value), !fence.whole);
  const trailing = trailingObject(trimmed);
  if (trailing !== undefined) return withRecovered(fromJsonObject(trailing), true);

  // 2. Prose with markdown sections.
  const split = splitSections(trimmed);
  if (!split.ok) return split;
  if (split.sections.size > 0) return withRecovered(fromSections(split.sections), true);

  // 3. Nothing usable: say what came closest.
  const broken = fences.findLast((candidate) => !candidate.parsed.ok);
  if (broken && !broken.parsed.ok)
    return fail(`the fenced JSON block is not valid JSON: ${broken.parsed.error}`);
  const lastFence = fences.at(-1);
  if (lastFence?.parsed.ok) return withRecovered(fromJsonObject(lastFence.parsed.value), !lastFence.whole);
  if (trimmed.startsWith("{")) return fail(`the reply looks like JSON but does not parse: ${whole.error}`);
  return fail(
    "the reply has no envelope: expected a JSON object {content, confidence, rationale, signal?} " +
      "or ## Response, ## Confidence and ## Rationale sections",
  );
}

function withRecovered(checked: Checked, recovered: boolean): EnvelopeParse {
  return checked.ok ? { ok: true, envelope: checked.envelope, recovered } : checked;
}
