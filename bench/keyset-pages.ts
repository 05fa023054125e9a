import type pg from 'pg';

/**
 * How a hand-written script reads a table: keyset pages of row objects, with pg's default type
 * parsing (timestamptz → Date, jsonb → object, int8 and numeric → string). The baselines share
 * it so they differ from bulk-import in what they do with rows, not in how they page.
 */
export async function* keysetPages(
  client: pg.Client,
  table: string,
  pageRows: number,
  limit: number,
): AsyncGenerator<Record<string, unknown>[]> {
  let last = '0';
  let left = limit;
  while (left > 0) {
    const { rows } = await client.query<Record<string, unknown>>(
      `SELECT * FROM ${table} WHERE id > $1 ORDER BY id LIMIT $2`,
      [last, Math.min(pageRows, left)],
    );
    if (rows.length === 0) return;
    left -= rows.length;
    last = String(rows[rows.length - 1].id);
    yield rows;
  }
}

/** `<database-url> <table> <sink-url> <rows>`, the baselines' whole command line. */
export function baselineArgs(argv: readonly string[]): { db: string; table: string; to: string; rows: number } {
  const [db, table, to, rows] = argv.slice(2);
  if (!db || !table || !/^[a-z_][a-z0-9_]*$/.test(table) || !to || !(Number(rows) > 0)) {
    throw new Error('usage: <database-url> <table> <sink-url> <rows>');
  }
  return { db, table, to, rows: Number(rows) };
}
