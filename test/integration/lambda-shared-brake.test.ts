import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/queue/sqs-event.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';

/**
 * The Lambda handler with a fixed CONCURRENCY: a Retry-After the API gave one request holds every
 * request of the container (its brake lives at module scope with the client) until it passes.
 */
let sink: HttpSink;
let handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;
const ENV_KEYS = ['TARGET_URL', 'BATCH_SIZE', 'CONCURRENCY', 'RETRIES', 'TIMEOUT_MS', 'SAFETY_MS'];
const REFUSED_AT = 60; // the n-th request is refused, once, with Retry-After: 1

beforeAll(async () => {
  sink = await startHttpSink({
    latencyMs: 40,
    fault: ({ n }) => (n === REFUSED_AT ? { status: 503, retryAfter: '1' } : undefined),
  });
  Object.assign(process.env, {
    TARGET_URL: sink.url,
    BATCH_SIZE: '1',
    CONCURRENCY: '6',
    RETRIES: '3',
    TIMEOUT_MS: '5000',
    SAFETY_MS: '100',
  });
  ({ handler } = await import('../../src/lambda/handler.js'));
  vi.spyOn(console, 'log').mockImplementation(() => {});
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const k of ENV_KEYS) delete process.env[k];
  await sink.close();
});

test('CONCURRENCY=6: a 503 with Retry-After: 1 on one request holds the others, every row once', async () => {
  const messages = 40;
  const perMessage = 5;
  const Records = Array.from({ length: messages }, (_, m) =>
    sqsRecord(Array.from({ length: perMessage }, (_, i) => makeRow(m * perMessage + i + 1, 80))),
  );
  const answer = await handler({ Records }, { getRemainingTimeInMillis: () => 30_000 });
  expect(answer).toEqual({ batchItemFailures: [] });
  const accepted = sink.acceptedIds();
  expect(accepted.length).toBe(messages * perMessage); // each row once
  expect(new Set(accepted).size).toBe(messages * perMessage);

  const refused = sink.requests.filter((r) => r.status === 503);
  expect(refused).toHaveLength(1);
  const at = refused[0]?.at ?? 0;
  const arrivals = sink.requests.map((r) => r.at);
  // The lanes were sending right up to the refusal (so a lane that went on would show).
  expect(arrivals.filter((t) => t > at - 200 && t < at).length).toBeGreaterThanOrEqual(6);
  // Requests already on the wire may still arrive (250 ms: a loaded machine); then none until it passed.
  const held = arrivals.filter((t) => t > at + 250 && t < at + 950);
  expect(held.map((t) => Math.round(t - at))).toEqual([]);
  const back = arrivals.filter((t) => t >= at + 950);
  expect(back.length).toBeGreaterThan(0);
  expect(Math.min(...back) - at).toBeLessThan(1_700);
}, 60_000);
