import { chmod, stat } from "node:fs/promises";
import BetterSqlite3 from "better-sqlite3";

/**
 * Writes a consistent copy of a SQLite database with SQLite's online backup API: safe while the
 * server is running (WAL lets it read a snapshot without blocking writers). Returns the page count.
 */
export async function backupSqlite(
  source: string,
  destination: string,
): Promise<{ pages: number; bytes: number }> {
  const db = new BetterSqlite3(source, { readonly: true, fileMustExist: true });
  try {
    const result = await db.backup(destination);
    // The copy holds token hashes: keep it as private as the original's directory.
    await chmod(destination, 0o600);
    return { pages: result.totalPages, bytes: (await stat(destination)).size };
  } finally {
    db.close();
  }
}
