/** Human tables by default, `--json` for scripts. */
export interface Output {
  json: boolean;
  print(line: string): void;
  printJson(value: unknown): void;
  /** Aligned columns; `headers` null prints no header line. */
  table(headers: string[] | null, rows: string[][]): void;
}

export function createOutput(
  json: boolean,
  write: (text: string) => void = (t) => process.stdout.write(t),
): Output {
  return {
    json,
    print: (line) => write(`${line}\n`),
    printJson: (value) => write(`${JSON.stringify(value, null, 2)}\n`),
    table: (headers, rows) => {
      const columns = headers?.length ?? Math.max(0, ...rows.map((row) => row.length));
      const widths = Array.from({ length: columns }, (_, i) =>
        Math.max(headers?.[i]?.length ?? 0, ...rows.map((row) => (row[i] ?? "").length)),
      );
      const format = (cells: string[]): string =>
        cells
          .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd();
      if (headers) write(`${format(headers)}\n`);
      for (const row of rows) write(`${format(row)}\n`);
    },
  };
}

/** `2026-11-21T10:00:00.000Z` → `2026-11-21 10:00` (UTC), or `-`. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

export function ago(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}
