import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BulkImportError } from '../../src/errors.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { runPoller } from '../../src/queue/poller.js';
import { createSqsClient } from '../../src/queue/sqs-client.js';
import type { SqsEvent } from '../../src/queue/sqs-event.js';
import { newCounters, sendMessages } from '../../src/queue/send-batch.js';
import { messageOf } from '../../src/queue/message-packer.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { drainQueue, idsIn, makeBatches } from '../helpers/queue-fixtures.js';
import { startSqsFaultProxy } from '../helpers/sqs-fault-proxy.js';

/** The SQS loops on the one retry wrapper (src/retry/retrying.ts): what each gives up on, and when. */
let sqs: LocalSqs;
const THROTTLED = { kind: 'error', status: 400, type: 'ThrottlingException' } as const;
const UNAVAILABLE = { kind: 'error', status: 503, type: 'ServiceUnavailable' } as const;
let queues = 0;

beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

/** A forwarder that takes every message: the poller's own loop is under test. */
function recordingForwarder() {
  const bodies: string[] = [];
  return {
    bodies,
    handle: async (event: SqsEvent) => {
      for (const r of event.Records) bodies.push(r.body);
      return { batchItemFailures: [] };
    },
  };
}

function pollerOn(endpoint: string, url: string, forwarder: ReturnType<typeof recordingForwarder>, stop: AbortSignal) {
  // maxAttempts 1: the SDK's own retries would hide the poller's.
  const client = createSqsClient({ ...sqs.connection, endpoint }, { maxAttempts: 1 });
  const counters = { received: 0, deleted: 0, deleteFailures: 0 };
  const run = runPoller({
    sqs: client,
    queueUrl: url,
    queueArn: 'arn:aws:sqs:us-east-1:000000000000:q',
    region: 'us-east-1',
    forwarder,
    waitSeconds: 0,
    visibilitySeconds: 30,
    stop,
    hard: new AbortController().signal,
    counters,
  }).finally(() => client.destroy());
  return { run, counters };
}

describe('SQS polling on the retry wrapper', () => {
  test('receive failures (throttling, 5xx) are retried with backoff, then messages are forwarded', async () => {
    const q = await sqs.createQueue(`retries-${++queues}`);
    await sqs.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '{"v":1,"job":"j","rows":[{"id":1}]}' }));
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      (call) => (call === 1 ? THROTTLED : call <= 3 ? UNAVAILABLE : undefined),
    );
    const stop = new AbortController();
    const forwarder = recordingForwarder();
    const { run, counters } = pollerOn(proxy.endpoint, q.url, forwarder, stop.signal);
    for (let i = 0; i < 200 && counters.deleted < 1; i++) await new Promise((r) => setTimeout(r, 25));
    stop.abort();
    await run;
    expect(forwarder.bodies).toHaveLength(1);
    expect(counters.deleted).toBe(1);
    expect(proxy.receives).toBeGreaterThanOrEqual(4);
  });

  test('a fatal receive error (no such queue) ends the poller at once with one line, no retry', async () => {
    const missing = { kind: 'error', status: 400, type: 'QueueDoesNotExist' } as const;
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      () => missing,
    );
    const url = `${sqs.endpoint}/000000000000/missing`;
    const { run } = pollerOn(proxy.endpoint, url, recordingForwarder(), new AbortController().signal);
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkImportError);
    expect((err as Error).message).toMatch(/ReceiveMessage: queue .* does not exist/);
    expect(proxy.receives).toBe(1);
  });

  test('a stop during the backoff ends the poller without an error', async () => {
    const q = await sqs.createQueue(`retries-${++queues}`);
    await using proxy = await startSqsFaultProxy(
      sqs.endpoint,
      () => undefined,
      () => UNAVAILABLE,
    );
    const stop = new AbortController();
    const { run } = pollerOn(proxy.endpoint, q.url, recordingForwarder(), stop.signal);
    for (let i = 0; i < 200 && proxy.receives < 2; i++) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    const t0 = Date.now();
    await expect(run).resolves.toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('SQS sends on the retry wrapper', () => {
  test('an entry SQS keeps failing on its side is failed after the policy retries, the others enqueued', async () => {
    const q = await sqs.createQueue(`retries-${++queues}`);
    const retry: RetryPolicy = { retries: 2, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 50 };
    await using proxy = await startSqsFaultProxy(sqs.endpoint, () => ({
      kind: 'fail-entries',
      fail: (e) => (e.MessageBody.includes('"id":3,') ? { code: 'InternalError', senderFault: false } : undefined),
    }));
    const batches = [];
    for await (const b of makeBatches(5, 1)) batches.push(b);
    const messages = batches.map((b) => messageOf('job-1', [{ batch: b, index: 0 }]));
    const counters = newCounters();
    const client = createSqsClient({ ...sqs.connection, endpoint: proxy.endpoint }, { maxAttempts: 1 });
    try {
      const ctx = { sqs: client, queueUrl: q.url, retry, counters, signal: new AbortController().signal };
      const out = await sendMessages(ctx, messages);
      expect(out.failed).toHaveLength(1);
      expect(out.failed[0]).toMatchObject({ attempts: 3, error: expect.stringContaining('InternalError') });
      expect(out.enqueued).toHaveLength(4);
      expect(counters.retries).toBe(2);
      expect(proxy.batches.map((b) => b.entries)).toEqual([5, 1, 1]);
    } finally {
      client.destroy();
    }
    expect(idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b)).toEqual([1, 2, 4, 5]);
  });
});
