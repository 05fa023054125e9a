import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { replayConfig } from '../../src/config/replay-config.js';
import { envelopeAttributes, envelopeBody } from '../../src/queue/envelope.js';
import { replay } from '../../src/run-replay.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { drainQueue, makeRow } from '../helpers/queue-fixtures.js';
import { startSqsFaultProxy } from '../helpers/sqs-fault-proxy.js';

/**
 * `replay --queue` on a queue whose ReceiveMessage fails for a while (the retry policy of
 * `forward`'s pollers), and its --visibility-timeout.
 */
let sqs: LocalSqs;
let dir: string;
const THROTTLED = { kind: 'error', status: 400, type: 'ThrottlingException' } as const;
const UNAVAILABLE = { kind: 'error', status: 503, type: 'ServiceUnavailable' } as const;

beforeAll(async () => {
  sqs = await startLocalSqs();
  dir = await mkdtemp(join(tmpdir(), 'replay-receive-'));
});
afterAll(async () => {
  await sqs.close();
  await rm(dir, { recursive: true, force: true });
});

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** `messages` envelopes of 5 rows each (ids 1..5·messages), as a dead-letter queue holds them. */
async function fillQueue(name: string, messages: number): Promise<string> {
  const q = await sqs.createQueue(name);
  for (let m = 0; m < messages; m += 10) {
    const entries = range(m, Math.min(10, messages - m)).map((i) => {
      const ids = range(i * 5 + 1, 5);
      return {
        Id: String(i),
        MessageBody: envelopeBody(
          'job-q',
          ids.map((id) => makeRow(id, 80)),
        ),
        MessageAttributes: envelopeAttributes({ job: 'job-q', rows: 5, range: [[String(ids[0])], [String(ids[4])]] }),
      };
    });
    await sqs.sqs.send(new SendMessageBatchCommand({ QueueUrl: q.url, Entries: entries }));
  }
  return q.url;
}

/** One replay of `url` through `endpoint` (the queue, or a fault proxy in front of it) to a sink. */
async function replayOnce(url: string, endpoint: string, to: string, extra: { visibilityTimeout?: number } = {}) {
  const failed = join(dir, `${Math.random().toString(36).slice(2)}.ndjson`);
  const config = replayConfig({ queue: url, sqsEndpoint: endpoint, to, batchSize: 5, failed, ...extra }, {});
  const r = await replay(config, { log: () => {} });
  if (r.kind !== 'queue') throw new Error('a queue replay');
  return r;
}

const sorted = (ids: string[]) => ids.map(Number).sort((a, b) => a - b);

describe('replay --queue: ReceiveMessage retries', () => {
  test('a receive failing twice, then succeeding: every message replayed once', async () => {
    const url = await fillQueue('replay-receive-twice', 12);
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      (call) => (call === 1 ? THROTTLED : call === 2 ? UNAVAILABLE : undefined),
    );
    await using api = await startHttpSink();
    const r = await replayOnce(url, proxy.endpoint, `${api.url}/items`);
    expect(r).toMatchObject({ received: 12, deleted: 12, kept: 0, delivered: 60, failedAgain: 0 });
    expect(sorted(api.acceptedIds())).toEqual(range(1, 60));
    expect(proxy.receives).toBeGreaterThanOrEqual(3);
    expect(await drainQueue(sqs.sqs, url)).toEqual([]);
  }, 60_000);

  test('receives failing longer than the SDK client retries, mid-pass: the pass goes on, every message once', async () => {
    const url = await fillQueue('replay-receive-outage', 25);
    // Receive 1 takes 10 messages; then 6 calls fail: more than one SDK send's 3 attempts.
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      (call) => (call >= 2 && call <= 7 ? (call % 2 ? THROTTLED : UNAVAILABLE) : undefined),
    );
    await using api = await startHttpSink();
    const r = await replayOnce(url, proxy.endpoint, `${api.url}/items`);
    expect(r).toMatchObject({ received: 25, deleted: 25, kept: 0, delivered: 125, failedAgain: 0 });
    expect(sorted(api.acceptedIds())).toEqual(range(1, 125));
    expect(proxy.receives).toBeGreaterThanOrEqual(8);
    expect(await drainQueue(sqs.sqs, url)).toEqual([]);
  }, 60_000);

  test('a fatal receive error (no such queue) ends the pass at once: one error, no retry', async () => {
    const url = await fillQueue('replay-receive-fatal', 1);
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      () => ({ kind: 'error', status: 400, type: 'QueueDoesNotExist' }),
    );
    await using api = await startHttpSink();
    await expect(replayOnce(url, proxy.endpoint, `${api.url}/items`)).rejects.toThrow(/ReceiveMessage/);
    expect(proxy.receives).toBe(1);
  }, 60_000);
});

describe('replay --queue --visibility-timeout', () => {
  test('is the time a message has: 2 s with a 3 s API keeps every message; 30 s delivers each once', async () => {
    const url = await fillQueue('replay-visibility', 3);
    await using slow = await startHttpSink({ latencyMs: 3000 });
    // 2 s minus the forwarder's 1.5 s safety margin: the requests are cut off and nothing is deleted.
    const short = await replayOnce(url, sqs.endpoint, `${slow.url}/items`, { visibilityTimeout: 2 });
    expect(short).toMatchObject({ received: 3, deleted: 0, kept: 3, delivered: 0 });
    await using api = await startHttpSink({ latencyMs: 20 });
    const long = await replayOnce(url, sqs.endpoint, `${api.url}/items`, { visibilityTimeout: 30 });
    expect(long).toMatchObject({ received: 3, deleted: 3, kept: 0, delivered: 15 });
    expect(sorted(api.acceptedIds())).toEqual(range(1, 15));
  }, 60_000);

  test.each([
    [['--visibility-timeout', '1'], '--visibility-timeout must be a whole number from 2 to 43200 (got "1")'],
    [['--visibility-timeout', 'soon'], '--visibility-timeout must be a whole number from 2 to 43200 (got "soon")'],
  ])('replay --queue %j: one line, exit 2', async (flags, message) => {
    const q = 'http://127.0.0.1:9/000000000000/never-polled';
    const res = await runCli(['replay', '--queue', q, '--to', 'http://127.0.0.1:9/x', ...flags]);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toContain(message);
    expect(res.stdout).toBe('');
  });

  test('on a file: one line, exit 2', async () => {
    const res = await runCli([
      'replay',
      'x.failed.ndjson',
      '--to',
      'http://127.0.0.1:9/x',
      '--visibility-timeout',
      '60',
    ]);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toContain('--visibility-timeout needs --queue');
  });
});
