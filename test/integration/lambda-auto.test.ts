import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/queue/sqs-event.js';
import { startCapacityApi, type CapacityApi } from '../helpers/capacity-api.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';

/**
 * The Lambda handler with CONCURRENCY=auto: its limiter lives at module scope with the sticky
 * client, so a warm container starts each invocation at the limit it learned on the last ones,
 * and backs off when the API starts refusing.
 */

/**
 * The API's capacity: 16 workers of 100 ms and 8 places in line (24 admitted); the container's
 * Vegas limiter settles near 18–21 in flight (a queue of 2–5 estimated). The drop leaves 2 workers
 * and the same line (10 admitted): far under what the container learned, so it is refused at once,
 * and far over where Vegas settles on 2 workers (4–6), so once backed off it is refused no more.
 * 100 ms, not 40: on a loaded box the scheduler's delays (the client and the API share this process)
 * count less against the latency floor, so the limit learned is the API's knee, not the CPU's.
 */
const WORKERS = 16;
const QUEUE = 8;
const SERVICE_MS = 100;
const SHRUNK = 2;
const SHRUNK_ADMITS = SHRUNK + QUEUE;

let api: CapacityApi;
let handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;
const logged: string[] = [];
const ENV_KEYS = ['TARGET_URL', 'BATCH_SIZE', 'CONCURRENCY', 'MAX_CONCURRENCY', 'RETRIES', 'TIMEOUT_MS', 'SAFETY_MS'];

beforeAll(async () => {
  api = await startCapacityApi({ workers: WORKERS, serviceMs: SERVICE_MS, queue: QUEUE });
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

/** Invokes the handler; returns when it started (on the server's clock) and the refusals it met. */
async function invoke(records: number, rows: number): Promise<{ at: number; refused: number }> {
  const before = api.refused;
  const at = performance.now();
  const answer = await handler(event(records, rows), { getRemainingTimeInMillis: () => 30_000 });
  expect(answer).toEqual({ batchItemFailures: [] });
  return { at, refused: api.refused - before };
}

/**
 * The most requests the server held from an invocation started at `at` until its first answer.
 * Each invocation starts with nothing in flight (the last one was awaited), and the limiter cannot
 * raise its limit before answers come back, so this is the limit the invocation started at, read
 * from what the server saw: no wall-clock window that a stalled, loaded box could miss.
 */
function startPeak(at: number): number {
  const points = api.timeline.filter((p) => p.at >= at);
  const firstAnswer = points.findIndex((p) => p.event !== 'start');
  const before = firstAnswer === -1 ? points : points.slice(0, firstAnswer);
  return Math.max(0, ...before.map((p) => p.inFlight));
}

test('a warm container starts at the limit it learned, and backs off when the API refuses', async () => {
  // A cold container: nothing learned, it starts at 4 and cannot raise before its first answers.
  const cold = await invoke(10, 16);
  const coldPeak = startPeak(cold.at);
  expect(coldPeak).toBeGreaterThan(0);
  expect(coldPeak).toBeLessThanOrEqual(4);
  for (let i = 0; i < 4; i++) await invoke(10, 16);
  // Warm: the next invocation puts the learned limit to work at once, well above the cold start.
  const warm = await invoke(10, 16);
  const warmPeak = startPeak(warm.at);
  expect(warmPeak).toBeGreaterThanOrEqual(7);

  // The API loses capacity. Until the container has met a refusal there is nothing to back off
  // from, so invoke until the API has refused one (bounded: a container that learned anything
  // near WORKERS starts above SHRUNK_ADMITS and is refused on its first invocation).
  const linesBefore = logged.length;
  api.setWorkers(SHRUNK);
  const shrunk: { at: number; refused: number }[] = [];
  while (shrunk.length < 4 && !shrunk.some((s) => s.refused > 0)) shrunk.push(await invoke(5, 8));
  expect(shrunk.some((s) => s.refused > 0)).toBe(true);
  // Then it backs off below the new knee: within a few invocations, one the API refuses nothing.
  // A limiter that does not back off keeps starting above SHRUNK_ADMITS and is refused each time.
  const refusedAt = shrunk.length;
  while (shrunk.length < refusedAt + 5 && (shrunk.at(-1)?.refused ?? 1) > 0) shrunk.push(await invoke(5, 8));
  const last = shrunk.at(-1) as { at: number; refused: number };
  console.info(
    `lambda auto: cold start ${coldPeak}, warm start ${warmPeak} in flight; after the shrink ` +
      `${shrunk.map((s) => s.refused).join(',')} refused per invocation, last starts at ${startPeak(last.at)}`,
  );
  expect(last.refused).toBe(0);

  // What the container said: at most one line per invocation (none per request), and a backoff.
  const invocations = 6 + shrunk.length;
  const lines = logged.map((l) => JSON.parse(l) as { event: string; limit: number; backoffs: number });
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.length).toBeLessThanOrEqual(invocations);
  expect(lines.every((l) => l.event === 'concurrency')).toBe(true);
  // The 503s of the shrink were said (a backoff is news), with a limit the shrunk API admits.
  const said = lines.slice(linesBefore);
  expect(said.length).toBeGreaterThan(0);
  expect(said.at(-1)?.backoffs).toBeGreaterThan(lines[linesBefore - 1]?.backoffs ?? 0);
  expect(said.at(-1)?.limit).toBeLessThanOrEqual(SHRUNK_ADMITS);
}, 60_000);
