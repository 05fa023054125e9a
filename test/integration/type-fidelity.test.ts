import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../src/source/postgres-connect.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { seedTypes } from '../../src/demo/sandbox/seed.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { importWith } from '../helpers/import.js';

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let table: string;
/** What PostgreSQL itself renders for each row, in the session settings the source uses (UTC, ISO). */
let expected: Map<string, string>;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  table = schema.qualified('types');
  await withClient(db.url, async (seeder) => {
    await seedTypes(seeder, table);
  });
  const client = await connectPostgres(db.url);
  try {
    const res = await client.query<string[]>({
      text: `SELECT t.n::text, row_to_json(t)::text FROM ${table} t ORDER BY n`,
      rowMode: 'array',
    });
    expected = new Map(res.rows.map((r) => [r[0] as string, r[1] as string]));
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

describe('type fidelity: rows arrive exactly as PostgreSQL renders them', () => {
  it.each([1, 3])('batch size %i', async (batchSize) => {
    await using sink = await startHttpSink({ idField: 'n' });
    const result = await importWith({ from: db.url, table, key: 'n', to: sink.url, batchSize: String(batchSize) });
    expect(result.thisRun.delivered).toBe(4);
    const arrived = new Map<string, string>();
    for (const r of sink.requests) {
      const texts = batchSize === 1 ? [r.body] : splitTop(r.body);
      for (const t of texts) arrived.set(String(JSON.parse(t).n), t);
    }
    expect(arrived).toEqual(expected);
    const one = arrived.get('1') as string;
    // Spelled out for the README's "how types arrive" table:
    expect(one).toContain('"i8":9007199254740993');
    expect(one).toContain('"num30":12345678901234567890.1234567890');
    expect(one).toContain('"tstz":"2024-02-29T12:34:56.123456+00:00"');
    expect(one).toContain('"ts":"2024-02-29T12:34:56.123456"');
    expect(one).toContain('"by":"\\\\x00ff10"');
    expect(one).toContain('"ia":[1,2,null,-3]');
    expect(one).toContain('"iv":"1 year 2 mons 3 days 04:05:06.789"');
    expect(one).toContain('"jb":{"a": [1, 2.50, null], "b": 1}');
    expect(arrived.get('2')).toContain('"r":"NaN","d":"Infinity"');
    expect(arrived.get('4')).toContain('"i8":null');
  });

  it('pages exactly by a timestamptz key with microseconds and by a bigint key above 2^53', async () => {
    const t = schema.qualified('keys');
    // withClient, not connectPostgres: the tool's own sessions are read-only.
    await withClient(db.url, async (client) => {
      await client.query(`CREATE TABLE ${t} (big int8, at timestamptz, PRIMARY KEY (big, at))`);
      // 300 rows whose keys differ only in the last digit of a bigint or the last microsecond.
      await client.query(
        `INSERT INTO ${t} SELECT 9007199254740993 + (g % 3), '2024-01-01 00:00:00.000001+00'::timestamptz + g * interval '1 microsecond' FROM generate_series(1, 300) g`,
      );
    });
    for (const key of ['at', 'big,at']) {
      await using sink = await startHttpSink({ idField: 'at' });
      const result = await importWith({ from: db.url, table: t, key, to: sink.url, batchSize: '7', pageRows: '21' });
      expect(result.thisRun.delivered, key).toBe(300);
      expect(new Set(sink.acceptedIds()).size, key).toBe(300);
    }
  });
});

/** Splits a JSON array's text into element texts (test-side twin, to not test the code with itself). */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 1;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) out.push(text.slice(start, i));
    } else if (c === ',' && depth === 1) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return out.filter((s) => s.length > 0);
}
