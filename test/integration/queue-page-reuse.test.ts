import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { runImport } from '../../src/index.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { drainQueue } from '../helpers/queue-fixtures.js';
import { startSqsFaultProxy } from '../helpers/sqs-fault-proxy.js';
import { tempDir } from '../helpers/tmp.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';

/*
 * Queue mode hands each page's buffer back to the PostgreSQL source once every row of it has
 * been enqueued, and the next pages are read into it. Pages of 40 rows here, so buffers go
 * round many times while messages of earlier pages may still be in flight: a buffer reused too
 * early would show as rows that arrive changed, twice, or not at all.
 */
let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let sqs: LocalSqs;
const ROWS = 4000;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  sqs = await startLocalSqs();
  await withClient(db.url, async (c) => {
    await c.query(`CREATE TABLE ${schema.qualified('listings')} (id int PRIMARY KEY, title text, body text)`);
    // Rows of different lengths and characters, so a row read from a reused buffer cannot pass for another.
    await c.query(
      `INSERT INTO ${schema.qualified('listings')}
       SELECT i, 'Zürich "' || i || '" ✓', repeat(chr(97 + i % 26), 50 + (i * 37) % 400) FROM generate_series(1, ${ROWS}) i`,
    );
  });
}, 60_000);

afterAll(async () => {
  await sqs?.close();
  await schema?.drop();
  await db?.stop();
});

/** The whole table into `queueUrl`: pages of 40 rows, batches of 10, messages of at most 4 KiB. */
function importVia(queueUrl: string, sqsEndpoint: string, failed: string | false) {
  const config = parseRunConfig(
    {
      from: db.url,
      table: schema.qualified('listings'),
      queue: queueUrl,
      sqsEndpoint,
      batchSize: '10',
      pageRows: '40',
      concurrency: '8',
      messageBytes: '4096',
      progress: false,
      checkpoint: false,
      failed,
    },
    {},
  );
  const never = new AbortController().signal;
  return runImport(config, { signal: never, hardSignal: never });
}

test('rows read into reused page buffers arrive once each, as the table holds them', async () => {
  const q = await sqs.createQueue('page-reuse');
  const result = await importVia(q.url, sqs.endpoint, false);
  expect(result.thisRun).toMatchObject({ read: ROWS, delivered: ROWS, failed: 0 });
  const messages = await drainQueue(sqs.sqs, q.url);
  const arrived = messages
    .flatMap((m) => (JSON.parse(m.Body as string) as { rows: { id: number }[] }).rows)
    .sort((a, b) => a.id - b.id);
  const table = await withClient(db.url, (c) =>
    c.query<{ r: { id: number } }>(`SELECT row_to_json(t) AS r FROM ${schema.qualified('listings')} t ORDER BY id`),
  );
  expect(arrived).toEqual(table.rows.map((x) => x.r));
}, 120_000);

test('rows SQS refuses are written to the failed file as the table holds them, while their page buffers go round', async () => {
  // The pair: a refused entry is split down to its row and written as failed while later pages
  // are already read into reused buffers. A failed row read from a reused buffer would be another
  // row's bytes (or the release guard would end the run).
  const q = await sqs.createQueue('page-reuse-refused');
  const refused = new Set([7, 777, 1234, 3999]);
  await using proxy = await startSqsFaultProxy(sqs.endpoint, () => ({
    kind: 'fail-entries',
    fail: (e) => {
      for (const id of refused)
        if (e.MessageBody.includes(`{"id":${id},`)) return { code: 'InvalidMessageContents', senderFault: true };
      return undefined;
    },
  }));
  await using dir = await tempDir();
  const failed = `${dir.path}/failed.ndjson`;
  const result = await importVia(q.url, proxy.endpoint, failed);
  expect(result.thisRun).toMatchObject({ read: ROWS, delivered: ROWS - refused.size, failed: refused.size });
  const lines = (await readFile(failed, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { row: { id: number } });
  const table = await withClient(db.url, (c) =>
    c.query<{ r: { id: number } }>(
      `SELECT row_to_json(t) AS r FROM ${schema.qualified('listings')} t WHERE id = ANY($1) ORDER BY id`,
      [[...refused]],
    ),
  );
  expect(lines.map((l) => l.row).sort((a, b) => a.id - b.id)).toEqual(table.rows.map((x) => x.r));
  const arrived = (await drainQueue(sqs.sqs, q.url)).flatMap(
    (m) => (JSON.parse(m.Body as string) as { rows: { id: number }[] }).rows,
  );
  expect(arrived).toHaveLength(ROWS - refused.size);
  expect(new Set(arrived.map((r) => r.id)).size).toBe(ROWS - refused.size);
  expect(arrived.some((r) => refused.has(r.id))).toBe(false);
}, 120_000);
