import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/demo/sandbox/embedded-postgres.js';
import { quoteIdent } from '../../src/source/sql.js';

export interface TestDatabase extends AsyncDisposable {
  readonly url: string;
  /**
   * True for the embedded pglite server: one shared session, no statement_timeout
   * (see src/demo/sandbox/embedded-postgres.ts).
   */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export interface FreshSchema extends AsyncDisposable {
  /** A new, unquoted, lower-case name such as `bi_test_1234_9f3a0c1e`. */
  readonly schema: string;
  /** `"schema"."name"`: ready for SQL text, and also valid `--table` input for the CLI. */
  qualified(name: string): string;
  /** DROP SCHEMA … CASCADE. Call it before the database's stop(). */
  drop(): Promise<void>;
}

// Vitest gives every test file its own module instances, so this is one server per test file:
// tests in a file share its start-up cost (about 2 s), and files running in parallel never share
// a pglite session, whose SETs and temp tables would otherwise leak between them.
let shared: { server: Promise<EmbeddedPostgres>; users: number } | undefined;

/**
 * The database tests run against: `TEST_DATABASE_URL` when set (CI points it at a real
 * PostgreSQL), else an embedded one started on first use. stop() ends this file's use of it;
 * the embedded server stops when the last user has called it.
 */
export async function testDatabase(): Promise<TestDatabase> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    const stop = async () => undefined;
    return { url: external, embedded: false, stop, [Symbol.asyncDispose]: stop };
  }
  shared ??= { server: startEmbeddedPostgres({ maxConnections: 16 }), users: 0 };
  const entry = shared;
  entry.users++;
  let server: EmbeddedPostgres;
  try {
    server = await entry.server;
  } catch (err) {
    // A failed start is not cached: the next caller tries again.
    if (shared === entry) shared = undefined;
    throw err;
  }
  let released = false;
  const stop = async () => {
    if (released) return;
    released = true;
    if (--entry.users > 0) return;
    if (shared === entry) shared = undefined;
    await server.stop();
  };
  return { url: server.url, embedded: true, stop, [Symbol.asyncDispose]: stop };
}

/**
 * A uniquely named schema, so test files running in parallel against one real server never see
 * each other's tables: put every table a test makes in it, through qualified().
 */
export async function freshSchema(url: string): Promise<FreshSchema> {
  const schema = `bi_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(url, (c) => c.query(`CREATE SCHEMA ${quoteIdent(schema)}`));
  let dropped: Promise<void> | undefined;
  const drop = () =>
    (dropped ??= withClient(url, async (c) => {
      await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    }));
  return {
    schema,
    qualified: (name) => `${quoteIdent(schema)}.${quoteIdent(name)}`,
    drop,
    [Symbol.asyncDispose]: drop,
  };
}

/** A short-lived connection, always closed, for set-up and clean-up statements. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a server going away is reported by the query in flight
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
