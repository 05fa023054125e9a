import { describe, expect, test } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Direct mode: a Retry-After the API gave one lane holds every lane of the run until it passes,
 * at a fixed --concurrency as under auto (issue 10: "a brake for all lanes").
 */
const ROWS = 400;
const REFUSED_AT = 100; // the n-th request is refused, once, with Retry-After: 1
/**
 * Slow enough answers that the lanes still unheld would keep sending through the whole hold:
 * the refused batch holds the watermark, and the run pulls at most 64 batches past it
 * (defaultMaxAhead), which 8 lanes at 100 ms take 800 ms to send.
 */
const LATENCY_MS = 100;

/**
 * The arrivals (ms) around a refusal at `at`: the lanes were busy just before it, and after the
 * few already on the wire, none came until the Retry-After (1 s) had passed; then they came back
 * at once (one hold, not two in a row).
 */
function expectHeld(arrivals: readonly number[], at: number): void {
  // The lanes were sending right up to the refusal (so a lane that went on would show).
  expect(arrivals.filter((t) => t > at - 200 && t < at).length).toBeGreaterThanOrEqual(8);
  // Requests already on the wire when it went out may still arrive (250 ms: a loaded machine).
  const held = arrivals.filter((t) => t > at + 250 && t < at + 950);
  expect(held.map((t) => Math.round(t - at))).toEqual([]);
  // And the lanes come back after it, without waiting it out a second time.
  const back = arrivals.filter((t) => t >= at + 950);
  expect(back.length).toBeGreaterThan(0);
  expect(Math.min(...back) - at).toBeLessThan(1_700);
}

describe('run (direct mode): a Retry-After brakes every lane', () => {
  test.each([
    ['8', 503],
    ['8', 429],
    ['auto', 503],
  ])(
    '--concurrency %s, one %i with Retry-After: 1: nothing reaches the API until it passes, every row once',
    async (concurrency, status) => {
      await using dir = await tempDir();
      const from = await dir.file('rows.ndjson', makeRows(ROWS));
      await using sink = await startHttpSink({
        latencyMs: LATENCY_MS,
        fault: ({ n }) => (n === REFUSED_AT ? { status, retryAfter: '1' } : undefined),
      });
      const result = await importWith({
        from,
        to: sink.url,
        batchSize: '1',
        concurrency,
        ...(concurrency === 'auto' ? { maxConcurrency: '16' } : {}),
      });
      expect(result.thisRun).toMatchObject({ delivered: ROWS, failed: 0 });
      const accepted = sink.acceptedIds();
      expect(accepted.length).toBe(ROWS); // every id once, none twice
      expect(new Set(accepted)).toEqual(new Set(range(1, ROWS)));
      const refused = sink.requests.filter((r) => r.status === status);
      expect(refused).toHaveLength(1);
      expectHeld(
        sink.requests.map((r) => r.at),
        refused[0]?.at ?? 0,
      );
    },
    60_000,
  );
});
