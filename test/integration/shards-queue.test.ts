import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { planShards, runImport } from '../../src/index.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { drainQueue, idsIn } from '../helpers/queue-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const ROWS = 2_000;
const SHARDS = 4;

let sqs: LocalSqs;
let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

beforeAll(async () => {
  sqs = await startLocalSqs();
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, async (client) => {
    await client.query(`CREATE TABLE ${schema.qualified('items')} (grp int, id bigint, PRIMARY KEY (grp, id))`);
    await client.query(`INSERT INTO ${schema.qualified('items')} SELECT i % 3, i FROM generate_series(1, ${ROWS}) i`);
  });
}, 60_000);

afterAll(async () => {
  await sqs?.close();
  await schema?.drop();
  await db?.stop();
});

test('queue mode: each shard of a plan enqueues only its key range, under a job id of its own', async () => {
  await using dir = await tempDir();
  const table = schema.qualified('items');
  const q = await sqs.createQueue('shards-queue');
  // The library's plan, as `bulk-import plan --key grp,id --shards 4` makes it.
  const plan = await planShards({ from: db.url, table, key: 'grp,id', shards: SHARDS });
  const planPath = `${dir.path}/plan.json`;
  await writeFile(planPath, JSON.stringify(plan));
  const never = new AbortController().signal;
  const jobs = new Set<string>();
  // One after another: the embedded database has one session for all.
  for (let k = 1; k <= SHARDS; k++) {
    const config = parseRunConfig(
      {
        from: db.url,
        table,
        key: 'grp,id',
        queue: q.url,
        sqsEndpoint: sqs.endpoint,
        batchSize: '100',
        concurrency: '2',
        progress: false,
        failed: false,
        shard: `${k}/${SHARDS}`,
        plan: planPath,
      },
      {},
    );
    // Without --checkpoint a shard keeps its checkpoint beside the plan, named for the shard.
    expect(config.checkpoint).toBe(`${dir.path}/plan.shard-${k}-of-${SHARDS}.ckpt.json`);
    const result = await runImport(config, { signal: never, hardSignal: never });
    expect(result.stoppedBy).toBe('completed');
    expect(Math.abs(result.thisRun.delivered - ROWS / SHARDS)).toBeLessThanOrEqual(1);
    jobs.add(result.jobId);
  }
  expect(jobs.size).toBe(SHARDS);
  const messages = await drainQueue(sqs.sqs, q.url);
  const ids = idsIn(messages);
  expect(ids.length).toBe(ROWS);
  expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
  expect(new Set(messages.map((m) => (JSON.parse(m.Body as string) as { job: string }).job))).toEqual(jobs);
}, 120_000);
