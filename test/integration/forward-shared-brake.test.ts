import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { forwardConfig } from '../../src/config/forward-config.js';
import { runForward } from '../../src/run-forward.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { startCapacityApi, type CapacityApi } from '../helpers/capacity-api.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { enqueueRows } from '../helpers/queue-fixtures.js';

/**
 * `forward` with several pollers: a Retry-After the API gave one request holds every poller of
 * the process, each with its own HTTP client (and, under auto, its own limiter), until it passes.
 */
let sqs: LocalSqs;

beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
const sortedIds = (api: CapacityApi) => [...api.ids].sort((a, b) => Number(a) - Number(b));

/** `forward` with 2 pollers, one row a request, until the queue is empty. */
function forwardTwoPollers(queueUrl: string, to: string, concurrency: string) {
  const config = forwardConfig(
    {
      queue: queueUrl,
      sqsEndpoint: sqs.endpoint,
      to,
      batchSize: 1,
      concurrency,
      ...(concurrency === 'auto' ? { maxConcurrency: 16 } : {}),
      pollers: 2,
      untilEmpty: true,
    },
    {},
  );
  return runForward(config, { log: () => {} });
}

/**
 * The arrivals (ms) around a refusal at `at`: both pollers' lanes were busy just before it, and
 * after the few already on the wire, none came until the Retry-After (1 s) had passed.
 */
function expectHeld(arrivals: readonly number[], at: number): void {
  // Both pollers were sending right up to the refusal (so a poller that went on would show).
  expect(arrivals.filter((t) => t > at - 200 && t < at).length).toBeGreaterThanOrEqual(8);
  // Requests already on the wire when it went out may still arrive (250 ms: a loaded machine).
  const held = arrivals.filter((t) => t > at + 250 && t < at + 990);
  expect(held.map((t) => Math.round(t - at))).toEqual([]);
  // And the pollers come back after it.
  expect(arrivals.some((t) => t >= at + 990)).toBe(true);
}

describe('forward: a Retry-After brakes every poller', () => {
  test.each([
    ['4', 'a fixed concurrency'],
    ['auto', 'auto'],
  ])(
    '--concurrency %s (%s), 2 pollers: nothing reaches the API until it passes, every row once',
    async (concurrency) => {
      const rows = 1200;
      const q = await sqs.createQueue(`fwd-brake-${concurrency}`);
      await enqueueRows(sqs, q.url, rows, 20, 'fwd-brake');
      await using api = await startCapacityApi({ workers: 32, serviceMs: 20, queue: 32 });
      let armed = false;
      const timer = setInterval(() => {
        if (armed || api.ids.length < 300) return;
        armed = true;
        api.refuseNext(1, '1');
      }, 5);
      const result = await forwardTwoPollers(q.url, api.url, concurrency);
      clearInterval(timer);
      expect(result.stoppedBy).toBe('empty');
      expect(sortedIds(api)).toEqual(range(rows));
      expect(result.delivered).toBe(rows);
      const refused = api.timeline.filter((p) => p.event === 'refused');
      expect(refused).toHaveLength(1);
      const at = refused[0]?.at ?? 0;
      const arrivals = api.timeline.filter((p) => p.event !== 'end').map((p) => p.at);
      expectHeld(arrivals, at);
    },
    60_000,
  );

  test('a 503 with a Retry-After, fixed concurrency, 2 pollers: the same hold, every row once', async () => {
    const rows = 1200;
    const q = await sqs.createQueue('fwd-brake-503');
    await enqueueRows(sqs, q.url, rows, 20, 'fwd-brake');
    await using api = await startHttpSink({
      latencyMs: 20,
      fault: (req) => (req.n === 300 ? { status: 503, retryAfter: '1' } : undefined),
    });
    const result = await forwardTwoPollers(q.url, api.url, '4');
    expect(result.stoppedBy).toBe('empty');
    expect(api.acceptedIds().sort((a, b) => Number(a) - Number(b))).toEqual(range(rows));
    expect(result.delivered).toBe(rows);
    const refused = api.requests.filter((r) => r.status === 503);
    expect(refused).toHaveLength(1);
    expectHeld(
      api.requests.map((r) => r.at),
      refused[0]?.at ?? 0,
    );
  }, 60_000);
});
