import type { Kysely, Selectable } from "kysely";

/**
 * Race-safe writes that later modules reuse (SPEC C1 "Storage"): a state transition is one
 * conditional `UPDATE … WHERE <expected state> RETURNING`, a versioned write checks `version`.
 * A lost race comes back as a value the caller reports, never as an exception that becomes a 500.
 */

export type TransitionResult<Row> =
  | { ok: true; row: Row }
  /** `current` is the state found afterwards, or null when the row does not exist. */
  | { ok: false; current: string | null };

export interface TransitionSpec {
  id: string;
  /** The state column, e.g. `status`. */
  column: string;
  from: readonly string[];
  to: string;
  /** Other columns written in the same statement. */
  set?: Record<string, unknown>;
}

// Kysely cannot type a table chosen at run time; callers get typed rows back through the generics.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function transition<DB, TB extends keyof DB & string>(
  db: Kysely<DB>,
  table: TB,
  spec: TransitionSpec,
): Promise<TransitionResult<Selectable<DB[TB]>>> {
  if (spec.from.length === 0) throw new Error("transition needs at least one expected state");
  const anyDb = db as unknown as AnyDb;
  const name: string = table;
  const row = await anyDb
    .updateTable(name)
    .set({ ...spec.set, [spec.column]: spec.to })
    .where("id", "=", spec.id)
    .where(spec.column, "in", spec.from)
    .returningAll()
    .executeTakeFirst();
  if (row) return { ok: true, row: row as Selectable<DB[TB]> };
  const current = await anyDb
    .selectFrom(name)
    .select(spec.column)
    .where("id", "=", spec.id)
    .executeTakeFirst();
  return { ok: false, current: current ? String(current[spec.column]) : null };
}

export class StaleVersionError extends Error {
  override name = "StaleVersionError";
  constructor(
    readonly table: string,
    readonly id: string,
    readonly expectedVersion: number,
  ) {
    super(`${table} ${id} changed since version ${expectedVersion} was read`);
  }
}

/**
 * Writes `set` only if the row is still at `expectedVersion`, bumping the version. Throws
 * StaleVersionError otherwise, so the caller re-reads and retries (or yields) instead of clobbering.
 */
export async function updateVersioned<DB, TB extends keyof DB & string>(
  db: Kysely<DB>,
  table: TB,
  id: string,
  expectedVersion: number,
  set: Record<string, unknown>,
): Promise<Selectable<DB[TB]>> {
  const anyDb = db as unknown as AnyDb;
  const name: string = table;
  const row = await anyDb
    .updateTable(name)
    .set((eb) => ({ ...set, version: eb("version", "+", 1) }))
    .where("id", "=", id)
    .where("version", "=", expectedVersion)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new StaleVersionError(table, id, expectedVersion);
  return row as Selectable<DB[TB]>;
}
