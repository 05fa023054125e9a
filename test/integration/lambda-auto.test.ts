import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/queue/sqs-event.js';
import { startCapacityApi, type CapacityApi } from '../helpers/capacity-api.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';

/**
 * The Lambda handler with CONCURRENCY=auto: its limiter lives at module scope with the sticky
 * client, so a warm container starts each invocation at the limit it learned on the last ones,
 * and backs off when the API starts refusing.
 */
let api: CapacityApi;
let handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;
const logged: string[] = [];
const ENV_KEYS = ['TARGET_URL', 'BATCH_SIZE', 'CONCURRENCY', 'MAX_CONCURRENCY', 'RETRIES', 'TIMEOUT_MS', 'SAFETY_MS'];

beforeAll(async () => {
  api = await startCapacityApi({ workers: 8, serviceMs: 40, queue: 8 });
  Object.assign(process.env, {
    TARGET_URL: api.url,
    BATCH_SIZE: '1',
    CONCURRENCY: 'auto',
    MAX_CONCURRENCY: '32',
    RETRIES: '6',
    TIMEOUT_MS: '5000',
    SAFETY_MS: '100',
  });
  ({ handler } = await import('../../src/lambda/handler.js'));
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logged.push(line));
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const k of ENV_KEYS) delete process.env[k];
  await api.close();
});

let nextId = 1;
/** One SQS-shaped event: `records` messages of `rows` rows each, fresh ids. */
function event(records: number, rows: number): SqsEvent {
  return {
    Records: Array.from({ length: records }, () =>
      sqsRecord(Array.from({ length: rows }, () => makeRow(nextId++, 80))),
    ),
  };
}

/** Invokes the handler; returns when it started (server clock) and the refusals it met. */
async function invoke(records: number, rows: number): Promise<{ at: number; refused: number }> {
  const before = api.refused;
  const at = performance.now();
  const answer = await handler(event(records, rows), { getRemainingTimeInMillis: () => 30_000 });
  expect(answer).toEqual({ batchItemFailures: [] });
  return { at, refused: api.refused - before };
}

/** The most requests the server held in the first `ms` of an invocation started at `at`. */
const peakAfter = (at: number, ms: number) =>
  Math.max(0, ...api.timeline.filter((p) => p.at >= at && p.at < at + ms).map((p) => p.inFlight));

test('a warm container starts at the limit it learned, and backs off when the API refuses', async () => {
  // A cold container: nothing learned, it starts at 4 and cannot raise before its first answers (40 ms).
  const cold = await invoke(10, 16);
  expect(peakAfter(cold.at, 30)).toBeLessThanOrEqual(4);
  for (let i = 0; i < 4; i++) await invoke(10, 16);
  // Warm: the next invocation puts the learned limit to work at once, well above the cold start.
  const warm = await invoke(10, 16);
  const warmPeak = peakAfter(warm.at, 30);
  expect(warmPeak).toBeGreaterThanOrEqual(7);

  // The API loses capacity: 2 workers and 8 places in line, 10 admitted at once; the rest is 503.
  const linesBefore = logged.length;
  api.setWorkers(2);
  const shrunk: { at: number; refused: number }[] = [];
  for (let i = 0; i < 5; i++) shrunk.push(await invoke(5, 8));
  const last = shrunk.at(-1) as { at: number; refused: number };
  const lastPeak = peakAfter(last.at, 400);
  console.info(
    `lambda auto: warm start ${warmPeak} in flight; after the shrink ${shrunk.map((s) => s.refused).join(',')} ` +
      `refused per invocation, last peaks at ${lastPeak}`,
  );
  expect(shrunk.reduce((n, s) => n + s.refused, 0)).toBeGreaterThan(0);
  expect(last.refused).toBe(0);
  expect(lastPeak).toBeLessThanOrEqual(10);

  // What the container said: at most one line per invocation (none per request), and a backoff.
  const lines = logged.map((l) => JSON.parse(l) as { event: string; limit: number; backoffs: number });
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.length).toBeLessThanOrEqual(6 + 5);
  expect(lines.every((l) => l.event === 'concurrency')).toBe(true);
  // The 503s of the shrink were said (a backoff is news), with a lower limit than the warm start's.
  const said = lines.slice(linesBefore);
  expect(said.length).toBeGreaterThan(0);
  expect(said.at(-1)?.backoffs).toBeGreaterThan(lines[linesBefore - 1]?.backoffs ?? 0);
  expect(said.at(-1)?.limit).toBeLessThanOrEqual(10);
}, 60_000);
