import { readFile, rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { envelopeAttributes, envelopeBody } from '../../src/queue/envelope.js';
import { rejectsSender } from '../../src/queue/rejects.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { runCli } from '../helpers/cli.js';
import { drainQueue, idsIn, makeRow } from '../helpers/queue-fixtures.js';

let sqs: LocalSqs;
let dir: string;
beforeAll(async () => {
  sqs = await startLocalSqs();
  dir = await mkdtemp(join(tmpdir(), 'replay-queue-'));
});
afterAll(async () => {
  await sqs.close();
  await rm(dir, { recursive: true, force: true });
});

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** A rejects queue as the forwarder fills it (rows 1–30 in 3 messages), plus a DLQ-style plain envelope (31–40) and a malformed message. */
async function fillQueue(name: string): Promise<string> {
  const q = await sqs.createQueue(name);
  const send = async (body: string, attributes: Record<string, MessageAttributeValue>) =>
    void (await sqs.sqs.send(
      new SendMessageCommand({ QueueUrl: q.url, MessageBody: body, MessageAttributes: attributes }),
    ));
  const rejects = rejectsSender(send);
  for (const from of [1, 11, 21])
    await rejects(
      'job-r',
      ids(from, 10).map((id) => ({ row: makeRow(id, 80), status: 422, error: 'bad', attempts: 1 })),
      `m${from}`,
    );
  await send(
    envelopeBody(
      'job-r',
      ids(31, 10).map((id) => makeRow(id, 80)),
    ),
    envelopeAttributes({ job: 'job-r', rows: 10, range: [['31'], ['40']] }),
  );
  await send('not an envelope', {});
  return q.url;
}

test('replay --queue re-sends rejects and DLQ envelopes, deletes what is settled, writes rows refused again to --failed', async () => {
  const url = await fillQueue('replay-rejects');
  await using api = await startHttpSink({ rejectIds: ['7'] });
  const failed = join(dir, 'again.ndjson');
  const res = await runCli(
    [
      'replay',
      '--queue',
      url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${api.url}/items`,
      '--batch-size',
      '10',
      '--failed',
      failed,
    ],
    { timeoutMs: 60_000 },
  );
  expect(res.code).toBe(1);
  expect(res.stdout).toMatch(
    /^replay: 5 messages \(4 deleted, 1 left on the queue\), 39 rows delivered, 1 failed again/,
  );
  expect(
    api
      .acceptedIds()
      .map(Number)
      .sort((a, b) => a - b),
  ).toEqual(ids(1, 40).filter((id) => id !== 7));
  const lines = (await readFile(failed, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status: number; row: { id: number } });
  expect(lines).toEqual([expect.objectContaining({ status: 400, row: expect.objectContaining({ id: 7 }) })]);
  // Only the malformed message is left, visible again for whoever looks next.
  const left = await drainQueue(sqs.sqs, url);
  expect(left.map((m) => m.Body)).toEqual(['not an envelope']);
});

test('replay --queue against an API that keeps failing deletes nothing and writes nothing', async () => {
  const url = await fillQueue('replay-503');
  await using api = await startHttpSink({ fault: () => ({ status: 503 }) });
  const failed = join(dir, 'none.ndjson');
  const res = await runCli(
    [
      'replay',
      '--queue',
      url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${api.url}/items`,
      '--retries',
      '0',
      '--failed',
      failed,
    ],
    { timeoutMs: 60_000 },
  );
  expect(res.code).toBe(1);
  expect(res.stdout).toMatch(
    /^replay: 5 messages \(0 deleted, 5 left on the queue\), 0 rows delivered, 0 failed again/,
  );
  await expect(readFile(failed, 'utf8')).rejects.toThrow(/ENOENT/);
  const left = await drainQueue(sqs.sqs, url);
  expect(idsIn(left.filter((m) => m.Body !== 'not an envelope')).sort((a, b) => a - b)).toEqual(ids(1, 40));
});
