import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';

// Issue 8, item 8: whatever SQL a user passes, the tool never writes to the monolith.

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let victim: string;
let seq: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  victim = schema.qualified('victim');
  seq = schema.qualified('victim_seq');
  await withClient(db.url, async (c) => {
    await c.query(`CREATE TABLE ${victim} (id int PRIMARY KEY, v text)`);
    await c.query(`INSERT INTO ${victim} SELECT g, 'v' || g FROM generate_series(1, 50) g`);
    await c.query(`CREATE SEQUENCE ${seq}`);
  });
}, 60_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

/** The victim's rows and the sequence's state: what no run may change. */
async function state(): Promise<string> {
  return withClient(db.url, async (c) => {
    const rows = await c.query(
      `SELECT count(*)::text AS n, string_agg(id::text || v, ',' ORDER BY id) AS all FROM ${victim}`,
    );
    const s = await c.query(`SELECT last_value::text, is_called FROM ${seq}`);
    return JSON.stringify([rows.rows[0], s.rows[0]]);
  });
}

async function run(source: string[], extra: string[] = []) {
  await using sink = await startHttpSink({ record: 'ids' });
  const result = await runCli([
    'run',
    '--from',
    db.url,
    ...source,
    '--to',
    sink.url,
    '--no-checkpoint',
    '--no-progress',
    ...extra,
  ]);
  return { ...result, arrived: sink.acceptedIds().length };
}

describe('SQL in --where and --query cannot write', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'a --where with "; DELETE"',
      () => ['--table', victim, '--where', `true; DELETE FROM ${victim} WHERE id = 2`],
      /--where holds a ";"/,
    ],
    [
      'a --query that closes its bracket, then "; DELETE"',
      () => ['--query', `SELECT * FROM ${victim}) s; DELETE FROM ${victim} WHERE id = 3; SELECT * FROM (SELECT 1`],
      /--query has a "\)" that closes nothing/,
    ],
    [
      'nextval() in a --query',
      () => ['--query', `SELECT id, nextval('${seq}') AS n FROM ${victim}`],
      /^bulk-import: the source is read-only: .*nextval/,
    ],
    [
      'nextval() in a --where',
      () => ['--table', victim, '--where', `nextval('${seq}') > 0`],
      /^bulk-import: the source is read-only: .*nextval/,
    ],
    [
      'a data-modifying CTE',
      () => ['--query', `WITH d AS (DELETE FROM ${victim} WHERE id = 4 RETURNING *) SELECT * FROM d`],
      /^bulk-import: the database rejected the query: .*data-modifying/,
    ],
    [
      'an unbalanced --where',
      () => ['--table', victim, '--where', '1=1) OR (1=1'],
      /--where has a "\)" that closes nothing at character 4/,
    ],
  ];

  it.skipIf(!process.env.TEST_DATABASE_URL).each(cases)(
    '%s: exit 2, one line, nothing changed',
    async (_, source, line) => {
      const before = await state();
      for (const batchSize of ['1', '7']) {
        const r = await run(source(), ['--batch-size', batchSize]);
        expect(r.code, r.stderr).toBe(2);
        expect(expectOneLine(r.stderr)).toMatch(line);
        expect(r.arrived).toBe(0);
      }
      expect(await state()).toBe(before);
    },
  );

  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'a --where that turns the session default read-write still cannot write',
    async () => {
      // set_config(default_transaction_read_only) in one statement would make the next one
      // writable, were reads not each in a READ ONLY transaction of their own.
      const before = await state();
      const where = `CASE WHEN current_setting('transaction_read_only') = 'on' THEN set_config('default_transaction_read_only', 'off', false) IS NOT NULL ELSE nextval('${seq}') > 0 END`;
      const r = await run(['--table', victim, '--where', where], ['--batch-size', '5', '--page-rows', '10']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.arrived).toBe(50);
      expect(await state()).toBe(before);
    },
  );

  it('an ordinary --where and --query still read (both the COPY and the batch-1 path)', async () => {
    for (const batchSize of ['1', '7']) {
      const byWhere = await run(['--table', victim, '--where', "id <= 20 AND v <> 'x;)'"], ['--batch-size', batchSize]);
      expect(byWhere.code, byWhere.stderr).toBe(0);
      expect(byWhere.arrived).toBe(20);
      const byQuery = await run(
        ['--query', `SELECT * FROM ${victim} WHERE id > 40 -- the last ten`],
        ['--batch-size', batchSize],
      );
      expect(byQuery.code, byQuery.stderr).toBe(0);
      expect(byQuery.arrived).toBe(10);
    }
  });
});
