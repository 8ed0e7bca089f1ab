/**
 * Which lines an edit changed: a line-by-line diff (longest common subsequence) reporting the
 * 1-based numbers of the lines removed from `before` and added in `after`. Lines are split on LF
 * only, so a CR that changes shows up as a changed line. The params tests use it to prove minimal
 * diffs; it is quadratic in the changed middle of the texts, meant for config-file sizes.
 */
export interface LineChanges {
  removed: number[];
  added: number[];
}

export function changedLines(before: string, after: string): LineChanges {
  const a = before.split("\n");
  const b = after.split("\n");
  // Common prefix and suffix need no table: edits are usually local.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  ) {
    tail++;
  }
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);

  // lcs[i][j]: length of the longest common subsequence of midA[i..] and midB[j..].
  const lcs = Array.from({ length: midA.length + 1 }, () => new Array<number>(midB.length + 1).fill(0));
  for (let i = midA.length - 1; i >= 0; i--) {
    const row = lcs[i] as number[];
    const below = lcs[i + 1] as number[];
    for (let j = midB.length - 1; j >= 0; j--) {
      row[j] =
        midA[i] === midB[j]
          ? (below[j + 1] as number) + 1
          : Math.max(below[j] as number, row[j + 1] as number);
    }
  }

  const removed: number[] = [];
  const added: number[] = [];
  let i = 0;
  let j = 0;
  while (i < midA.length || j < midB.length) {
    if (i < midA.length && j < midB.length && midA[i] === midB[j]) {
      i++;
      j++;
    } else if (j < midB.length && (i === midA.length || (lcs[i]?.[j + 1] ?? 0) >= (lcs[i + 1]?.[j] ?? 0))) {
      added.push(head + j + 1);
      j++;
    } else {
      removed.push(head + i + 1);
      i++;
    }
  }
  return { removed, added };
}
