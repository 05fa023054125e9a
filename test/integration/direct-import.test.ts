import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { importWith, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';
import { readFile } from 'node:fs/promises';
import { parseRunConfig } from '../../src/cli/config.js';
import { runImport } from '../../src/index.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let table: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  table = schema.qualified('listings');
  await withClient(db.url, async (client) => {
    await seedListings(client, { table, rows: 5000 });
  });
});

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

describe('direct import from PostgreSQL', () => {
  it('delivers exactly the ids of the table, in batches with stable idempotency keys', async () => {
    await using sink = await startHttpSink();
    const result = await importWith({
      from: db.url,
      table,
      to: `${sink.url}/listings`,
      batchSize: '100',
      concurrency: '8',
      pageRows: '700',
    });
    expect(result.stoppedBy).toBe('completed');
    expect(result.thisRun).toEqual({ read: 5000, delivered: 5000, failed: 0, skipped: 0 });
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 5000)));
    expect(sink.acceptedIds()).toHaveLength(5000);
    expect(sink.requests).toHaveLength(50);
    const keys = sink.requests.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(50);
    for (const r of sink.requests) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(Array.isArray(JSON.parse(r.body))).toBe(true);
    }
    // The same job cuts the same batches: a second run sends the same keys.
    await importWith({ from: db.url, table, to: `${sink.url}/listings`, batchSize: '100', concurrency: '3' });
    expect(new Set(sink.requests.slice(50).map((r) => r.headers['idempotency-key']))).toEqual(new Set(keys));
  });

  it('sends one JSON object per request at batch size 1, with --where and --limit', async () => {
    await using sink = await startHttpSink();
    const result = await importWith({
      from: db.url,
      table,
      to: sink.url,
      batchSize: '1',
      concurrency: '4',
      where: 'id % 10 = 0',
      limit: '120',
    });
    expect(result.thisRun.delivered).toBe(120);
    const ids = sink
      .acceptedIds()
      .map(Number)
      .sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 120 }, (_, i) => (i + 1) * 10));
    expect(JSON.parse(sink.requests[0]!.body)).not.toBeInstanceOf(Array);
  });

  it('pages a --query by a composite key', async () => {
    await using sink = await startHttpSink();
    const query = `SELECT id, bedrooms, title FROM ${table}`;
    const result = await importWith({
      from: db.url,
      query,
      key: 'bedrooms,id',
      to: sink.url,
      batchSize: '50',
      pageRows: '150',
    });
    expect(result.thisRun.delivered).toBe(5000);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 5000)));
    expect(sink.acceptedIds()).toHaveLength(5000);
  });

  it('reads a table whose columns are named like the SQL aliases it uses (t, j, n, k0)', async () => {
    const t = schema.qualified('Weird Name');
    await withClient(db.url, async (client) => {
      await client.query(`CREATE TABLE ${t} (id int PRIMARY KEY, t text, j text, n int, k0 text, s text)`);
      await client.query(`INSERT INTO ${t} SELECT g, 't' || g, 'j', g, 'k', 's' FROM generate_series(1, 250) g`);
    });
    await using sink = await startHttpSink();
    const result = await importWith({ from: db.url, table: t, to: sink.url, batchSize: '20', pageRows: '60' });
    expect(result.thisRun.delivered).toBe(250);
    expect(JSON.parse(sink.requests[0]!.body)[0]).toEqual({ id: 1, t: 't1', j: 'j', n: 1, k0: 'k', s: 's' });
  });

  it('pages by text keys holding quotes, backslashes and unicode (inlined as literals for COPY)', async () => {
    const t = schema.qualified('texty');
    const keys = ["a'b", 'a\\b', "it''s", '\\x00', 'é', '東京', 'z"q', "'; DROP TABLE x; --", 'a$$b', 'plain'];
    await withClient(db.url, async (client) => {
      await client.query(`CREATE TABLE ${t} (k text PRIMARY KEY, n int)`);
      for (const [i, k] of keys.entries()) await client.query(`INSERT INTO ${t} VALUES ($1, $2)`, [k, i]);
    });
    await using sink = await startHttpSink({ idField: 'k' });
    const result = await importWith({ from: db.url, table: t, key: 'k', to: sink.url, batchSize: '2', pageRows: '2' });
    expect(result.thisRun.delivered).toBe(keys.length);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(keys));
  });

  it('batch size 1 and 4 page by a composite key (quoted text, bigint past 2^53) and send rows as PostgreSQL rendered them', async () => {
    const t = schema.qualified('single_rows');
    const words = ["a'b", 'a\\b', '東京', 'z"q', "'; DROP TABLE x; --", 'é'];
    await withClient(db.url, async (client) => {
      await client.query(`CREATE TABLE ${t} (k text, b bigint, doc jsonb, price numeric, PRIMARY KEY (k, b))`);
      for (const [i, k] of words.entries())
        for (const b of ['9007199254740993', '-1', String(i)])
          await client.query(`INSERT INTO ${t} VALUES ($1, $2, $3, 12345678901234567890.1234567)`, [k, b, { k, n: i }]);
    });
    const expected = await withClient(db.url, async (client) => {
      await client.query(`SET DateStyle = ISO; SET TimeZone = 'UTC'`);
      return (await client.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM ${t} t ORDER BY k, b`)).rows.map(
        (r) => r.j,
      );
    });
    await using sink = await startHttpSink({ idField: 'k' });
    // Pages of 4 rows: batches are cut across pages, and the last page is short.
    const result = await importWith({
      from: db.url,
      table: t,
      key: 'k,b',
      to: sink.url,
      batchSize: '1',
      concurrency: '3',
      pageRows: '4',
    });
    expect(result.thisRun.delivered).toBe(expected.length);
    expect(sink.requests.map((r) => r.body).sort()).toEqual([...expected].sort());
    const keys = new Set(sink.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(expected.length);

    // Batch size 4, pages rounded up to 8 rows: each body is its rows glued into an array as they
    // were rendered, cut every 4 rows in key order, the last one short.
    await using batched = await startHttpSink({ idField: 'k' });
    const four = await importWith({
      from: db.url,
      table: t,
      key: 'k,b',
      to: batched.url,
      batchSize: '4',
      pageRows: '6',
    });
    expect(four.thisRun.delivered).toBe(expected.length);
    const arrays = Array.from(
      { length: Math.ceil(expected.length / 4) },
      (_, i) => `[${expected.slice(4 * i, 4 * i + 4).join(',')}]`,
    );
    expect(batched.requests.map((r) => r.body).sort()).toEqual(arrays.sort());
  });

  it('writes only the refused row of a rejected batch and hands whole rows to a transform (batches read as bytes)', async () => {
    await using dir = await tempDir();
    const transform = await dir.file(
      't.mjs',
      'export default (row) => ({ id: row.id, upper: row.title.toUpperCase() });',
    );
    await using picky = await startHttpSink({ rejectIds: ['42'] });
    const failed = `${dir.path}/failed.ndjson`;
    const config = parseRunConfig(
      {
        from: db.url,
        table,
        to: picky.url,
        batchSize: '10',
        limit: '100',
        transform,
        failed,
        checkpoint: false,
        progress: false,
      },
      {},
    );
    const never = new AbortController().signal;
    const result = await runImport(config, { signal: never, hardSignal: never });
    expect(result.thisRun).toMatchObject({ delivered: 99, failed: 1 });
    const lines = (await readFile(failed, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.row.id)).toEqual([42]);
    expect(lines[0]).toMatchObject({ status: 400 });
    expect(lines[0].row.upper).toMatch(/^[^a-z]+$/);
    expect(new Set(picky.acceptedIds())).toEqual(new Set(range(1, 100).filter((id) => id !== '42')));
  });

  it('refuses a key with NULLs instead of skipping those rows silently', async () => {
    const t = schema.qualified('nullable');
    await withClient(db.url, async (client) => {
      await client.query(`CREATE TABLE ${t} (code int, v text)`);
      await client.query(
        `INSERT INTO ${t} SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE g END, 'x' FROM generate_series(1, 100) g`,
      );
    });
    await using sink = await startHttpSink();
    await expect(importWith({ from: db.url, table: t, key: 'code', to: sink.url })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('NULL key'),
    });
    const ok = await importWith({
      from: db.url,
      table: t,
      key: 'code',
      where: 'code IS NOT NULL',
      to: sink.url,
      batchSize: '7',
    });
    expect(ok.thisRun.delivered).toBe(90);
  });

  it('fails fast with a clear error for a missing table or key column', async () => {
    await using sink = await startHttpSink();
    await expect(importWith({ from: db.url, table: schema.qualified('nope'), to: sink.url })).rejects.toMatchObject({
      code: 'NO_SUCH_TABLE',
    });
    await expect(importWith({ from: db.url, table, key: 'nope', to: sink.url })).rejects.toMatchObject({
      code: 'NO_SUCH_COLUMN',
    });
    expect(sink.counts.requests).toBe(0);
  });
});
