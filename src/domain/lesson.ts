import { sanitizeText } from "./nudge-text.js";
import type { SessionOutcome } from "./session.js";

/**
 * Lessons (SPEC C6 "Lessons"): what a finished session teaches the next similar one. Extraction is
 * pure, so the same facts always give the same lesson and a back-fill can redo it safely. Bump
 * `LESSON_EXTRACTOR_VERSION` whenever the output changes: lessons are unique per session and
 * version, so the nightly back-fill then extracts every recent session again.
 */
export const LESSON_EXTRACTOR_VERSION = 1;

export const LESSON_SUMMARY_MAX_CHARS = 1000;
export const LESSON_TEXT_MAX_CHARS = 4000;
export const LESSON_TOOL_STEPS_MAX = 50;
/** Inputs are the operator's: a few long values must not crowd out goal, outcome and summary. */
const INPUT_VALUE_MAX_CHARS = 200;
const INPUT_SIGNALS_MAX = 50;
const INPUT_KEY_MAX_CHARS = 64;
const DETAIL_MAX_CHARS = 300;
/** A long goal must leave room in the text for the outcome and the summary. */
const GOAL_MAX_CHARS = 1000;
const INPUTS_MAX_CHARS = 1000;
const KEY_TOOLS_MAX = 20;

/** One agent run of the session, as far as a lesson cares. */
export interface LessonRunSource {
  agent: string;
  signal: string | null;
  confidence: number | null;
  /** The turn envelope's content and rationale; null when the run ended without an envelope. */
  content: string | null;
  rationale: string | null;
  errorCode: string | null;
}

export interface LessonToolCallSource {
  server: string;
  tool: string;
  status: string;
}

/** The stored facts of one session that a lesson is extracted from. */
export interface LessonSource {
  sessionId: string;
  goal: string;
  skill: string | null;
  repoId: string | null;
  inputs: Record<string, unknown>;
  /** Null while the session is not finished: only terminal sessions teach. */
  outcome: SessionOutcome | null;
  /** In the order they ran. */
  runs: readonly LessonRunSource[];
  /** In the order they were made. */
  toolCalls: readonly LessonToolCallSource[];
}

export type LessonSignalValue = string | number | boolean | null;
export type LessonSignals = Record<string, LessonSignalValue>;

/** Consecutive calls of one tool with one status, collapsed into one step. */
export interface LessonToolStep {
  /** `server:tool`. */
  tool: string;
  status: string;
  count: number;
}

export interface LessonDraft {
  outcome: SessionOutcome;
  summary: string;
  signals: LessonSignals;
  toolSequence: LessonToolStep[];
  confidenceFinal: number | null;
  /** What full-text search (and an embedding model) sees of the lesson. */
  text: string;
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Sanitized, trimmed, on one line: for values that sit inside a `label: value` line. */
function oneLine(text: string, max: number): string {
  return cut(sanitizeText(text).replace(/\s+/g, " ").trim(), max);
}

function isScalar(value: unknown): value is LessonSignalValue {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (isScalar(value)) return String(value);
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    // A cycle or a BigInt: inputs come from JSON, so this is a caller's mistake, not data.
    return "";
  }
}

/** `key: value` lines of the inputs, in key order so equal inputs always read the same. */
function inputLines(inputs: Record<string, unknown>): string[] {
  return Object.keys(inputs)
    .sort()
    .map((key) => {
      const value = oneLine(renderValue(inputs[key]), INPUT_VALUE_MAX_CHARS);
      return `${oneLine(key, INPUT_KEY_MAX_CHARS)}: ${value}`;
    });
}

function lastNonNull<T>(values: readonly (T | null)[]): T | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const value = values[i];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

function signalsOf(source: LessonSource, outcome: SessionOutcome): LessonSignals {
  const signals: LessonSignals = {};
  let kept = 0;
  for (const key of Object.keys(source.inputs).sort()) {
    const value = source.inputs[key];
    // Nested objects are not signals: they would not compare across sessions anyway.
    if (!isScalar(value) || kept >= INPUT_SIGNALS_MAX) continue;
    signals[oneLine(key, INPUT_KEY_MAX_CHARS)] =
      typeof value === "string" ? oneLine(value, INPUT_VALUE_MAX_CHARS) : value;
    kept++;
  }
  // The framework's facts win over an input of the same name, as injected arguments do.
  signals.last_signal = lastNonNull(source.runs.map((run) => run.signal));
  signals.outcome = outcome.kind;
  return signals;
}

function toolSequenceOf(calls: readonly LessonToolCallSource[]): LessonToolStep[] {
  const steps: LessonToolStep[] = [];
  for (const call of calls) {
    const tool = `${oneLine(call.server, 100)}:${oneLine(call.tool, 100)}`;
    const status = oneLine(call.status, 40);
    const last = steps.at(-1);
    if (last && last.tool === tool && last.status === status) {
      last.count++;
      continue;
    }
    if (steps.length === LESSON_TOOL_STEPS_MAX) break;
    steps.push({ tool, status, count: 1 });
  }
  return steps;
}

function summaryOf(source: LessonSource, outcome: SessionOutcome): string {
  const content = sanitizeText(source.runs.at(-1)?.content ?? "").trim();
  const chosen = content !== "" ? content : sanitizeText(outcome.detail ?? "").trim();
  return cut(chosen, LESSON_SUMMARY_MAX_CHARS);
}

function outcomeLine(outcome: SessionOutcome): string {
  const detail = oneLine(outcome.detail ?? "", DETAIL_MAX_CHARS);
  return detail === "" ? outcome.kind : `${outcome.kind}: ${detail}`;
}

function confidenceOf(runs: readonly LessonRunSource[]): number | null {
  return lastNonNull(
    runs.map((run) => (run.confidence !== null && Number.isFinite(run.confidence) ? run.confidence : null)),
  );
}

/** The lines a lesson's text starts with: what the session was asked to do. */
function contextLines(goal: string, inputs: Record<string, unknown>, skill: string | null): string[] {
  const lines = [`Goal: ${cut(sanitizeText(goal).trim(), GOAL_MAX_CHARS)}`];
  if (skill) lines.push(`Skill: ${oneLine(skill, 100)}`);
  const listed = inputLines(inputs);
  if (listed.length > 0) {
    lines.push(`Inputs:\n${cut(listed.map((line) => `- ${line}`).join("\n"), INPUTS_MAX_CHARS)}`);
  }
  return lines;
}

/**
 * The lesson of a finished session, or null when the session has no outcome yet. Everything in
 * the lesson will reach another agent's prompt, so all text is sanitized and capped here.
 */
export function extractLesson(source: LessonSource): LessonDraft | null {
  const outcome = source.outcome;
  if (outcome === null) return null;
  const summary = summaryOf(source, outcome);
  const toolSequence = toolSequenceOf(source.toolCalls);
  const keyTools = [...new Set(toolSequence.map((step) => step.tool))].slice(0, KEY_TOOLS_MAX);
  const lines = [
    ...contextLines(source.goal, source.inputs, source.skill),
    `Outcome: ${outcomeLine(outcome)}`,
  ];
  if (summary !== "") lines.push(`Summary: ${summary}`);
  if (keyTools.length > 0) lines.push(`Key tools: ${keyTools.join(", ")}`);
  const cleanOutcome: SessionOutcome =
    outcome.detail === undefined
      ? { kind: outcome.kind }
      : { kind: outcome.kind, detail: cut(sanitizeText(outcome.detail), LESSON_SUMMARY_MAX_CHARS) };
  return {
    outcome: cleanOutcome,
    summary,
    signals: signalsOf(source, outcome),
    toolSequence,
    confidenceFinal: confidenceOf(source.runs),
    text: cut(lines.join("\n"), LESSON_TEXT_MAX_CHARS),
  };
}

/**
 * The text a new session looks for similar lessons with: its goal, skill and inputs, without the
 * labels of a lesson's text (every lesson has those, so they would only add noise to a ranking).
 */
export function lessonQuery(goal: string, inputs: Record<string, unknown>, skill: string | null): string {
  const lines = [cut(sanitizeText(goal).trim(), GOAL_MAX_CHARS)];
  if (skill) lines.push(oneLine(skill, 100));
  const listed = inputLines(inputs);
  if (listed.length > 0) lines.push(cut(listed.join("\n"), INPUTS_MAX_CHARS));
  return cut(lines.join("\n"), LESSON_TEXT_MAX_CHARS);
}
