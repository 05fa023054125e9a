import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { runCli } from '../helpers/cli.js';
import { freshSchema, withClient } from '../helpers/database.js';
import { ownDatabase } from '../helpers/own-database.js';
import { drainQueue, idsIn } from '../helpers/queue-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

let db: Awaited<ReturnType<typeof ownDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let sqs: LocalSqs;

beforeAll(async () => {
  db = await ownDatabase();
  schema = await freshSchema(db.url);
  sqs = await startLocalSqs();
}, 60_000);

afterAll(async () => {
  await sqs?.close();
  await schema?.drop();
  await db?.stop();
});

describe('--catch-up in queue mode', () => {
  it('enqueues only the rows changed since the copy, then nothing', async () => {
    const t = schema.qualified('queued');
    await withClient(db.url, async (c) => {
      await c.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, title text, updated_at timestamptz NOT NULL)`);
      await c.query(`INSERT INTO ${t} SELECT g, 'v1', now() - interval '1 hour' FROM generate_series(1, 500) g`);
      await c.query(`CREATE INDEX ON ${t} (updated_at, id)`);
    });
    await using dir = await tempDir();
    const q = await sqs.createQueue('catch-up');
    const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
    const args = ['run', '--from', db.url, '--table', t, '--queue', q.url, '--sqs-endpoint', sqs.endpoint];
    const flags = ['--checkpoint', `${dir.path}/q.ckpt.json`, '--no-progress', '--changed-column', 'updated_at'];
    const overlap = ['--catch-up-overlap', '1ms'];
    const copy = await runCli([...args, ...flags, ...overlap], { env });
    expect(copy.code).toBe(0);
    expect(new Set(idsIn(await drainQueue(sqs.sqs, q.url))).size).toBe(500);
    await withClient(db.url, (c) =>
      c.query(`UPDATE ${t} SET title = 'v2', updated_at = now() WHERE id IN (7, 70, 700 - 300)`),
    );
    const up = await runCli([...args, ...flags, ...overlap, '--catch-up'], { env });
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/catch-up 1: 3 rows changed since/);
    const messages = await drainQueue(sqs.sqs, q.url);
    expect(idsIn(messages).sort((a, b) => a - b)).toEqual([7, 70, 400]);
    expect(JSON.parse(messages[0]?.Body ?? '{}').rows[0].title).toBe('v2');
    const second = await runCli([...args, ...flags, ...overlap, '--catch-up'], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/catch-up 2: 0 rows changed since/);
    expect(await drainQueue(sqs.sqs, q.url)).toHaveLength(0);
  }, 120_000);

  it('a bigint version column: enqueues the rows changed since the copy, then nothing', async () => {
    const t = schema.qualified('queued_versions');
    const seq = schema.qualified('queued_versions_seq');
    await withClient(db.url, async (c) => {
      await c.query(`CREATE SEQUENCE ${seq}`);
      await c.query(
        `CREATE TABLE ${t} (id bigint PRIMARY KEY, title text, version bigint NOT NULL DEFAULT nextval('${seq}'))`,
      );
      await c.query(`INSERT INTO ${t} (id, title) SELECT g, 'v1' FROM generate_series(1, 500) g`);
      await c.query(`CREATE INDEX ON ${t} (version, id)`);
    });
    await using dir = await tempDir();
    const q = await sqs.createQueue('catch-up-versions');
    const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
    const args = ['run', '--from', db.url, '--table', t, '--queue', q.url, '--sqs-endpoint', sqs.endpoint];
    const flags = ['--checkpoint', `${dir.path}/v.ckpt.json`, '--no-progress', '--changed-column', 'version'];
    const overlap = ['--catch-up-overlap', '0'];
    const copy = await runCli([...args, ...flags, ...overlap], { env });
    expect(copy.code).toBe(0);
    expect(new Set(idsIn(await drainQueue(sqs.sqs, q.url))).size).toBe(500);
    // No trigger here: the writer sets the next version itself, in the same statement.
    await withClient(db.url, (c) =>
      c.query(`UPDATE ${t} SET title = 'v2', version = nextval('${seq}') WHERE id IN (7, 70, 400)`),
    );
    const up = await runCli([...args, ...flags, ...overlap, '--catch-up'], { env });
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/catch-up 1: 3 rows changed since version 501 /);
    const messages = await drainQueue(sqs.sqs, q.url);
    expect(idsIn(messages).sort((a, b) => a - b)).toEqual([7, 70, 400]);
    expect(JSON.parse(messages[0]?.Body ?? '{}').rows[0].title).toBe('v2');
    const second = await runCli([...args, ...flags, ...overlap, '--catch-up'], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/catch-up 2: 0 rows changed since version 504 /);
    expect(await drainQueue(sqs.sqs, q.url)).toHaveLength(0);
  }, 120_000);
});
