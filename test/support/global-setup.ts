/** Runs once before the suite: says loudly when the PostgreSQL half of the suite is skipped. */
export function setup(): void {
  if (!process.env.SHEPHERD_TEST_DATABASE_URL) {
    const line = "=".repeat(78);
    process.stderr.write(
      `\n${line}\n` +
        "  PostgreSQL tests are SKIPPED: SHEPHERD_TEST_DATABASE_URL is not set.\n" +
        "  Set it (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run the\n" +
        "  distributed-mode half of the suite; .ci/run always sets it.\n" +
        `${line}\n\n`,
    );
  }
}
