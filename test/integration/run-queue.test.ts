import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { runImport } from '../../src/index.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import type { Message } from '@aws-sdk/client-sqs';
import { parseForwarderEnv } from '../../src/lambda/config.js';
import { createForwarder } from '../../src/lambda/forwarder.js';
import type { SqsRecord } from '../../src/queue/sqs-event.js';
import { drainQueue, idsIn, makeRow } from '../helpers/queue-fixtures.js';
import { startHttpSink } from '../helpers/http-sink.js';

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

test('--batch-size: messages hold whole API batches, and the forwarder sends full requests', async () => {
  const q = await sqs.createQueue('run-queue-whole-batches');
  const rows = 12_345;
  const file = join(dir, 'whole.ndjson');
  // Rows of varied length, so batches are not all the same size.
  await writeFile(file, Array.from({ length: rows }, (_, i) => `${makeRow(i + 1, 150 + (i % 7) * 20)}\n`).join(''));
  const config = parseRunConfig(
    {
      from: file,
      queue: q.url,
      sqsEndpoint: sqs.endpoint,
      batchSize: '100',
      concurrency: '4',
      progress: false,
      checkpoint: join(dir, 'whole.ckpt.json'),
      failed: false,
    },
    {},
  );
  const never = new AbortController().signal;
  const result = await runImport(config, { signal: never, hardSignal: never });
  expect(result.thisRun).toMatchObject({ read: rows, delivered: rows, failed: 0 });
  const { messages: sent, calls } = result.sink.json.queue as { messages: number; calls: number };
  const messages = await drainQueue(sqs.sqs, q.url);
  expect(messages).toHaveLength(sent);
  expect(idsIn(messages).sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, i) => i + 1));
  // Whole multiples of 100, but for at most one message per call: the one that closes a call
  // at its 64 KiB boundary when whole batches would waste more of the bill (and the run's last).
  const counts = messages.map((m) => Number(m.MessageAttributes?.rows?.StringValue));
  const ragged = counts.filter((n) => n % 100 !== 0).length;
  expect(ragged).toBeLessThanOrEqual(calls + 1);
  expect(counts.filter((n) => n % 100 === 0).length).toBeGreaterThan(messages.length / 2);

  // The forwarder with the same batch size: requests are full but for one per ragged message.
  await using api = await startHttpSink();
  const forwarder = await createForwarder(
    parseForwarderEnv({ TARGET_URL: `${api.url}/items`, BATCH_SIZE: '100', CONCURRENCY: '4' }),
    () => undefined,
  );
  const context = { getRemainingTimeInMillis: () => 60_000 };
  for (let i = 0; i < messages.length; i += 10) {
    const records = messages.slice(i, i + 10).map((m) => recordOf(m));
    expect((await forwarder.handle({ Records: records }, context)).batchItemFailures).toEqual([]);
  }
  const sizes = api.requests.map((r) => r.ids.length);
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(rows);
  expect(sizes.filter((n) => n < 100).length).toBeLessThanOrEqual(ragged);
  // Against cutting each message into 100-row requests from wherever its rows began.
  expect(api.requests.length).toBeLessThanOrEqual(Math.ceil(rows / 100) + ragged);
});

/** A received message as Lambda hands it over. */
function recordOf(m: Message): SqsRecord {
  const attributes = Object.fromEntries(
    Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [
      k,
      { stringValue: v.StringValue, stringListValues: [], binaryListValues: [], dataType: v.DataType },
    ]),
  );
  return <SqsRecord>{
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: attributes,
    md5OfBody: m.MD5OfBody,
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:run-queue',
    awsRegion: 'us-east-1',
  };
}
