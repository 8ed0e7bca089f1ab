import type { SkillPosition } from "./skill-pack.js";

export interface SkillProblem extends SkillPosition {
  message: string;
}

export function formatSkillProblem(problem: SkillProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

/**
 * Every problem found in one or more skill packs, not just the first: fixing a pack should take
 * one round. Problems are sorted by place so the message reads like a compiler's.
 */
export class SkillPackError extends Error {
  override name = "SkillPackError";
  readonly problems: SkillProblem[];

  constructor(problems: readonly SkillProblem[]) {
    const sorted = [...problems].sort(
      (a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) || a.line - b.line || a.column - b.column,
    );
    super(sorted.map(formatSkillProblem).join("\n"));
    this.problems = sorted;
  }
}
