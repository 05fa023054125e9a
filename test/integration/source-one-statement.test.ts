import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkImportError } from '../../src/errors.js';
import { PostgresKeysetSource, type PostgresSourceConfig } from '../../src/source/postgres-keyset.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';

// Issue 8, item 8, the server's side: the CLI refuses a `;` at the edge, but the source must
// not depend on that. Here the source gets the hostile text directly (as a library caller or
// a lexer gap could give it): every statement, the count and the COPY included, goes out as
// one extended-protocol statement that the server refuses to split.

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let victim: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  victim = schema.qualified('victim');
  await withClient(db.url, async (c) => {
    await c.query(`CREATE TABLE ${victim} (id int PRIMARY KEY, v text)`);
    await c.query(`INSERT INTO ${victim} SELECT g, 'v' || g FROM generate_series(1, 50) g`);
  });
}, 60_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

const count = () =>
  withClient(db.url, async (c) => Number((await c.query(`SELECT count(*) FROM ${victim}`)).rows[0].count));

function source(over: Partial<PostgresSourceConfig>): PostgresKeysetSource {
  return new PostgresKeysetSource({
    url: db.url,
    key: ['id'],
    batchSize: 7,
    pageRows: 14,
    jobId: 'j',
    statementTimeoutMs: 10_000,
    ...over,
  });
}

async function readAll(s: PostgresKeysetSource): Promise<number> {
  let rows = 0;
  for await (const b of s.batches({ signal: new AbortController().signal })) rows += b.count;
  return rows;
}

describe.each([1, 7])('batch size %i: a second statement never runs', (batchSize) => {
  it('in --where: the probe, the pages and the count all refuse it', async () => {
    const s = source({ table: victim, where: `true; DELETE FROM ${victim} WHERE id = 2; SELECT true`, batchSize });
    try {
      await expect(s.open()).rejects.toBeInstanceOf(BulkImportError);
      expect(await s.estimateTotal()).toBeNull();
      await expect(readAll(s)).rejects.toBeInstanceOf(BulkImportError);
    } finally {
      await s.close();
    }
    expect(await count()).toBe(50);
  });

  it('in --query, after its closing bracket', async () => {
    const s = source({
      query: `SELECT * FROM ${victim}) s; DELETE FROM ${victim} WHERE id = 3; SELECT * FROM (SELECT 1 AS id`,
      batchSize,
    });
    try {
      await expect(s.open()).rejects.toBeInstanceOf(BulkImportError);
      expect(await s.estimateTotal()).toBeNull();
      await expect(readAll(s)).rejects.toBeInstanceOf(BulkImportError);
    } finally {
      await s.close();
    }
    expect(await count()).toBe(50);
  });

  it('an ordinary table still reads whole', async () => {
    const s = source({ table: victim, batchSize });
    try {
      await s.open();
      expect(await s.estimateTotal()).toBe(50);
      expect(await readAll(s)).toBe(50);
    } finally {
      await s.close();
    }
  });
});
