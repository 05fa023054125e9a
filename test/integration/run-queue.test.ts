import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { runImport } from '../../src/index.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { drainQueue, idsIn, makeRow } from '../helpers/queue-fixtures.js';

let sqs: LocalSqs;
let dir: string;
beforeAll(async () => {
  sqs = await startLocalSqs();
  dir = await mkdtemp(join(tmpdir(), 'run-queue-'));
});
afterAll(async () => {
  await sqs.close();
  await rm(dir, { recursive: true, force: true });
});

test('runImport with the queue sink: rows enqueued, checkpoint complete, envelopes name the job', async () => {
  const q = await sqs.createQueue('run-queue');
  const file = join(dir, 'rows.ndjson');
  await writeFile(file, Array.from({ length: 3000 }, (_, i) => `${makeRow(i + 1, 200)}\n`).join(''));
  // What `run --from rows.ndjson --queue … --batch-size 100 --concurrency 4` builds (no --to in queue mode).
  const config = parseRunConfig(
    {
      from: file,
      queue: q.url,
      sqsEndpoint: sqs.endpoint,
      batchSize: '100',
      concurrency: '4',
      progress: false,
      checkpoint: join(dir, 'q.ckpt.json'),
      failed: false,
    },
    {},
  );
  const never = new AbortController().signal;
  const result = await runImport(config, { signal: never, hardSignal: never });
  expect(result).toMatchObject({
    stoppedBy: 'completed',
    target: `SQS ${q.url}`,
    thisRun: { read: 3000, delivered: 3000, failed: 0 },
  });
  const checkpoint = JSON.parse(await readFile(join(dir, 'q.ckpt.json'), 'utf8')) as {
    complete: boolean;
    jobId: string;
  };
  expect(checkpoint).toMatchObject({ complete: true, jobId: result.jobId });
  const messages = await drainQueue(sqs.sqs, q.url);
  expect(idsIn(messages).sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
  expect(new Set(messages.map((m) => (JSON.parse(m.Body as string) as { job: string }).job))).toEqual(
    new Set([result.jobId]),
  );
  const n = expect.any(Number);
  expect(result.sink.json.queue).toMatchObject({ messages: n, calls: n, billedRequests: n });
  const queueLine = /^ {2}queue: \d+ messages in \d+ SendMessageBatch calls = \d+ billed SQS requests/;
  expect(result.sink.lines).toEqual([expect.stringMatching(queueLine)]);
});
