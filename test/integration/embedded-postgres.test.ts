import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/demo/sandbox/embedded-postgres.js';
import { seedListings, seedTypes } from '../../src/demo/sandbox/seed.js';
import { freshSchema, testDatabase, withClient, type FreshSchema, type TestDatabase } from '../helpers/database.js';

// Runs against TEST_DATABASE_URL when set, else against the embedded server: run it both ways.
let db: TestDatabase;
let schema: FreshSchema;
let client: pg.Client;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // The settings the product's source uses, so key text round-trips the same way here.
  await client.query(`SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'`);
});

afterAll(async () => {
  await client?.end();
  await schema?.drop();
  await db?.stop();
});

const rowsOf = async (sql: string, values: unknown[] = []) =>
  (await client.query({ text: sql, values, rowMode: 'array' })).rows;

describe(`test database (${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'embedded'})`, () => {
  it('accepts several pg connections at once, a pool included', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => pool.query({ text: 'SELECT $1::int * 2 AS v', values: [String(i)] })),
      );
      expect(results.map((r) => r.rows[0].v)).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    } finally {
      await pool.end();
    }
  });

  it('seeds 5,000 listings with unique ids and a planner estimate', async () => {
    const table = schema.qualified('listings');
    await seedListings(client, { table, rows: 5_000 });
    const [[count, distinct, min, max, avg]] = await rowsOf(
      `SELECT count(*)::int, count(DISTINCT id)::int, min(id)::int, max(id)::int,
        avg(length(row_to_json(t)::text))::int FROM ${table} t`,
    );
    expect([count, distinct, min, max]).toEqual([5_000, 5_000, 1, 5_000]);
    expect(avg).toBeGreaterThan(400);
    expect(avg).toBeLessThan(650);
    const [[reltuples]] = await rowsOf(`SELECT reltuples::bigint::text FROM pg_class WHERE oid = $1::regclass`, [
      table,
    ]);
    expect(reltuples).toBe('5000');
  });

  it('pages by keyset with the key sent back as an untyped text parameter', async () => {
    const table = schema.qualified('listings');
    const ids: number[] = [];
    let last: string | undefined;
    for (let page = 0; page < 10; page++) {
      const where = last === undefined ? '' : 'WHERE (id) > ($1)';
      const rows = await rowsOf(
        `SELECT row_to_json(t)::text, t.id::text FROM (SELECT * FROM ${table} ${where} ORDER BY id LIMIT 1000) t`,
        last === undefined ? [] : [last],
      );
      if (rows.length === 0) break;
      for (const [json, key] of rows) expect(String(JSON.parse(json).id)).toBe(key);
      ids.push(...rows.map((r) => Number(r[1])));
      last = rows.at(-1)?.[1];
    }
    expect(ids).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
  });

  it('pages a composite (int, timestamptz with microseconds) key by row comparison', async () => {
    const table = schema.qualified('events');
    await client.query(`CREATE TABLE ${table} (tenant int, at timestamptz, note text, PRIMARY KEY (tenant, at))`);
    // Timestamps one microsecond apart, so a key that lost precision would skip or repeat rows.
    await client.query(`INSERT INTO ${table} SELECT g % 3, timestamptz '2024-03-31 01:59:59.999990+00'
      + (g / 3) * interval '1 microsecond', 'n' || g FROM generate_series(0, 299) g`);
    const seen: string[] = [];
    let after: [string, string] | undefined;
    for (;;) {
      const where = after ? 'WHERE (tenant, at) > ($1, $2)' : '';
      const rows = await rowsOf(
        `SELECT t.note, t.tenant::text, t.at::text FROM (SELECT * FROM ${table} ${where} ORDER BY tenant, at LIMIT 7) t`,
        after ?? [],
      );
      if (rows.length === 0) break;
      seen.push(...rows.map((r) => r[0]));
      const lastRow = rows.at(-1) as string[];
      after = [lastRow[1], lastRow[2]];
    }
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(300);
    expect(seen.slice(0, 3)).toEqual(['n0', 'n3', 'n6']);
    expect(after?.[1]).toMatch(/\.\d{6}\+00$/);
  });

  it('groups a page into batches with string_agg, in key order', async () => {
    const table = schema.qualified('listings');
    const rows = await rowsOf(
      `SELECT '[' || string_agg(j, ',' ORDER BY n) || ']', count(*)::int FROM (
        SELECT row_to_json(t)::text AS j, row_number() OVER (ORDER BY t.id) AS n
        FROM (SELECT * FROM ${table} WHERE (id) > ($1) ORDER BY id LIMIT 1000) t) x
      GROUP BY (n - 1) / 300 ORDER BY (n - 1) / 300`,
      ['2000'],
    );
    expect(rows.map((r) => r[1])).toEqual([300, 300, 300, 100]);
    const ids = rows.flatMap((r) => (JSON.parse(r[0]) as { id: number }[]).map((o) => o.id));
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => 2001 + i));
  });

  it('seeds the type-fidelity table, values intact as row_to_json renders them', async () => {
    const table = schema.qualified('all_types');
    await seedTypes(client, table);
    await seedTypes(client, table); // replaces, so a rerun starts clean
    const json = (await rowsOf(`SELECT row_to_json(t)::text FROM ${table} t ORDER BY n`)).map((r) => r[0] as string);
    expect(json).toHaveLength(4);
    expect(json[0]).toContain('"i8":9007199254740993,');
    expect(json[0]).toContain('"num30":12345678901234567890.1234567890,');
    expect(json[0]).toContain('"tstz":"2024-02-29T12:34:56.123456+00:00"');
    expect(json[1]).toContain('"r":"NaN","d":"Infinity"');
    const parsed = json.map((j) => JSON.parse(j) as Record<string, unknown>);
    expect(parsed[1].txt).toBe('Crème brûlée 🍰 東京 naïve ﬁ');
    expect(parsed[2].txt).toBe('tab\there\nnewline\r\u0001 back\\slash "quote" \'apos\' \u2028 \u{1F600}');
    expect(parsed[2].mood).toBe('très "content"');
    expect(Object.entries(parsed[3]).filter(([k, v]) => k !== 'n' && v !== null)).toEqual([]);
  });
});

describe('startEmbeddedPostgres', () => {
  it('keeps a data directory across restarts and stops cleanly with clients attached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bi-pglite-'));
    try {
      let firstUrl = '';
      {
        await using server = await startEmbeddedPostgres({ dataDir: dir, maxConnections: 3 });
        firstUrl = server.url;
        expect(server.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
        await withClient(server.url, (c) => c.query('CREATE TABLE kept AS SELECT 42 AS answer'));
      }
      // `await using` stopped it: the port no longer answers.
      await expect(withClient(firstUrl, (c) => c.query('SELECT 1'))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const server = await startEmbeddedPostgres({ dataDir: dir, maxConnections: 3 });
      const a = new pg.Client(server.url);
      const b = new pg.Client(server.url);
      const errors: Error[] = [];
      for (const c of [a, b]) c.on('error', (e) => errors.push(e));
      await Promise.all([a.connect(), b.connect()]);
      expect((await b.query('SELECT answer FROM kept')).rows).toEqual([{ answer: 42 }]);
      // Pins a known difference: one pglite session serves every connection, so a SET on one is
      // seen by the others. If this starts failing, pglite-socket isolates sessions and the
      // notes in embedded-postgres.ts are stale.
      await a.query(`SET application_name = 'from-a'`);
      expect((await b.query('SHOW application_name')).rows[0].application_name).toBe('from-a');
      await server.stop();
      await server.stop();
      // Connected clients learn of the stop as a connection error, not a hang.
      await expect(a.query('SELECT 1')).rejects.toThrow();
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
