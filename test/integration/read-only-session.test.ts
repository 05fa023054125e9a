import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, withStartupOptions } from '../../src/source/postgres-connect.js';
import { ReadOnlySession } from '../../src/source/read-only-session.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';

// Issue 8, items 8 and 9: the session the source opens is read-only and bounded from its start.
// Real PostgreSQL only where startup options matter: pglite ignores them (see src/demo/sandbox/embedded-postgres.ts).
const realPostgres = !!process.env.TEST_DATABASE_URL;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, (c) => c.query(`CREATE TABLE ${schema.qualified('t')} (id int)`));
}, 60_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

async function show(url: string, ...names: string[]): Promise<string[]> {
  const client = await connectPostgres(url, { statementTimeoutMs: 1234 });
  try {
    const out: string[] = [];
    for (const n of names) out.push((await client.query(`SHOW ${n}`)).rows[0][n]);
    return out;
  } finally {
    await client.end();
  }
}

describe('the source session', () => {
  it.skipIf(!realPostgres)(
    'starts read-only with the statement timeout, keeping options given in the URL',
    async () => {
      expect(await show(db.url, 'default_transaction_read_only', 'statement_timeout')).toEqual(['on', '1234ms']);
      const url = `${db.url}${db.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
      expect(await show(url, 'default_transaction_read_only', 'search_path')).toEqual(['on', schema.schema]);
    },
  );

  it('reads in READ ONLY transactions, also where the server ignores startup options', async () => {
    const session = await ReadOnlySession.open(db.url, 10_000);
    try {
      const mode = await session.read((c) => c.query('SHOW transaction_read_only'), 'a test read');
      expect(mode.rows[0].transaction_read_only).toBe('on');
      await expect(
        session.read((c) => c.query(`INSERT INTO ${schema.qualified('t')} VALUES (1)`), 'a test read'),
      ).rejects.toMatchObject({ code: '25006' });
    } finally {
      await session.close();
    }
    expect(
      await withClient(
        db.url,
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM ${schema.qualified('t')}`)).rows[0].n,
      ),
    ).toBe(0);
  });
});

describe('withStartupOptions', () => {
  it.each([
    ['postgres://u@h/db', 'postgres://u@h/db', '-c x=1'],
    ['postgres://u@h/db?sslmode=disable', 'postgres://u@h/db?sslmode=disable', '-c x=1'],
    [
      'postgres://u@h/db?options=-c%20search_path%3Dapp&sslmode=disable',
      'postgres://u@h/db?sslmode=disable',
      '-c search_path=app -c x=1',
    ],
    ['postgres://u@h/db?options=-c+a%3D1', 'postgres://u@h/db', '-c a=1 -c x=1'],
  ])('%s', (url, connectionString, options) => {
    expect(withStartupOptions(url, '-c x=1')).toEqual({ connectionString, options });
  });
});
