import pg from 'pg';
import { seedListings } from '../src/demo/sandbox/seed.js';

/** A database the contenders read from, and how to let go of it. */
export interface BenchDatabase {
  readonly url: string;
  readonly embedded: boolean;
  stop(): Promise<void>;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/**
 * The server at `url` when one answers; otherwise the embedded one (pglite over the wire
 * protocol), so the bench still runs on a bare machine, slower and single-threaded.
 */
export async function openBenchDatabase(url: string, log: (line: string) => void): Promise<BenchDatabase> {
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return { url, embedded: false, stop: async () => undefined };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!UNREACHABLE.has(code) && !/timeout/i.test(String(err))) throw err;
    log(`no PostgreSQL answers at ${redact(url)} (${code || 'timeout'}): falling back to the embedded one`);
  } finally {
    await probe.end().catch(() => undefined);
  }
  let embedded: typeof import('../src/demo/sandbox/embedded-postgres.js');
  try {
    embedded = await import('../src/demo/sandbox/embedded-postgres.js');
  } catch (err) {
    throw new Error(
      `no PostgreSQL at ${redact(url)}, and no embedded one to fall back to (dist/src/demo/sandbox/embedded-postgres.js: ${String(err)}); start a server or set BENCH_DATABASE_URL`,
    );
  }
  // Every contender holds one or two connections, and the seeder one more.
  const db = await embedded.startEmbeddedPostgres({ maxConnections: 32 });
  return { url: db.url, embedded: true, stop: () => db.stop() };
}

/**
 * Makes `table` hold exactly ids 1…rows, reusing what is there: a table of the right size is
 * kept, a smaller one topped up, a larger one trimmed. Seeding a million rows takes about
 * half a minute; a --quick run after a full one should not throw that away.
 */
export async function ensureListings(
  url: string,
  table: string,
  rows: number,
  log: (line: string) => void,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const exists =
      (await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [table])).rows[0].t !== null;
    const have = exists
      ? (
          await client.query<{ n: string; lo: string; hi: string }>(
            `SELECT count(*)::text AS n, coalesce(min(id), 0)::text AS lo, coalesce(max(id), 0)::text AS hi FROM ${table}`,
          )
        ).rows[0]
      : { n: '0', lo: '0', hi: '0' };
    const n = Number(have.n);
    const contiguous = n === 0 || (Number(have.lo) === 1 && Number(have.hi) === n);
    if (n === rows && contiguous) return log(`${table}: reusing ${rows.toLocaleString('en')} rows`);
    const started = Date.now();
    if (!contiguous) {
      await client.query(`DROP TABLE ${table}`);
      await seedListings(client, { table, rows });
    } else if (n < rows) {
      await seedListings(client, { table, rows: rows - n, startId: n + 1 });
    } else {
      await client.query(`DELETE FROM ${table} WHERE id > $1`, [String(rows)]);
    }
    // Dead tuples and a stale visibility map would slow the first contender, not the others.
    await client.query(`VACUUM ANALYZE ${table}`);
    log(
      `${table}: ${n.toLocaleString('en')} → ${rows.toLocaleString('en')} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await client.end();
  }
}

/** Reads the heap and the key index once, so no contender pays for the cold cache alone. */
export async function warmListings(url: string, table: string): Promise<{ sampleRow: string; avgRowBytes: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // The same rendering settings as bulk-import's connection, so the sample row is what it sends.
    await client.query(`SET DateStyle = ISO; SET TimeZone = 'UTC'`);
    await client.query(`SELECT count(*) FROM ${table}`);
    await client.query(`SELECT count(*) FROM (SELECT id FROM ${table} ORDER BY id) k`);
    const sample = await client.query<{ j: string }>(
      `SELECT row_to_json(t)::text AS j FROM ${table} t ORDER BY id LIMIT 1`,
    );
    const avg = await client.query<{ b: string }>(
      `SELECT avg(octet_length(row_to_json(t)::text))::int::text AS b FROM (SELECT * FROM ${table} ORDER BY id LIMIT 10000) t`,
    );
    return { sampleRow: sample.rows[0].j, avgRowBytes: Number(avg.rows[0].b) };
  } finally {
    await client.end();
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/** The server's version, for the report's set-up lines. */
export async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? 'unknown';
  } finally {
    await client.end();
  }
}
