import { describe, expect, it } from 'vitest';
import { startCapacityApi, meanInFlight, type CapacityApi } from '../helpers/capacity-api.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** Calls `fn` once, when `ready()` first holds (polled every 5 ms); the returned function stops polling. */
function when(ready: () => boolean, fn: () => void): () => void {
  const timer = setInterval(() => {
    if (!ready()) return;
    clearInterval(timer);
    fn();
  }, 5);
  return () => clearInterval(timer);
}

const sortedIds = (api: CapacityApi) => [...api.ids].sort((a, b) => Number(a) - Number(b));

describe('--concurrency auto against an API with a capacity model', () => {
  it('converges near the knee (8 workers), follows it to 24, and delivers every row once', async () => {
    await using dir = await tempDir();
    // 100 ms per request, not 40: the client and the API share this process, and at 40 ms the knee
    // of 24 asks ~600 requests a second of it; on a loaded 2-core box the CPU, not the API, was then
    // the knee (11–16 in flight after the move, 4 runs in 5). At 100 ms it is 240 a second. The
    // limiter adjusts once a round trip, so its settling times grow with it: 2.5 × those at 40 ms.
    const rows = 2400;
    const from = await dir.file('rows.ndjson', makeRows(rows));
    await using api = await startCapacityApi({ workers: 8, serviceMs: 100, queue: 16 });
    let movedAt = 0;
    const stop = when(
      () => api.ids.length >= 600,
      () => {
        movedAt = performance.now();
        api.setWorkers(24);
      },
    );
    const t0 = performance.now();
    const result = await importWith({ from, to: api.url, batchSize: '1', concurrency: 'auto', maxConcurrency: '64' });
    stop();
    expect(result.stoppedBy).toBe('completed');
    expect(sortedIds(api)).toEqual(range(1, rows));
    expect(movedAt).toBeGreaterThan(0);
    const end = api.timeline.at(-1)?.at ?? 0;
    // Before the move, once settled (3 s: slow start's overshoot and its way back down): at 8 in
    // flight at the server, no queue held (8.0 measured; the limiter before this one held a queue of
    // 2–6: 10–14), well under the 8 + 16 where 503s begin.
    const before = meanInFlight(api.timeline, t0 + 3000, movedAt);
    // After the move, once settled and before the last rows drain: near 24; a limiter that does
    // not climb stays near 8. Settled: 3 s, as the limit that queued before the move (9) is tried
    // again only after a hold of at most 2 s (a try costs a late answer, so a knee that stays put
    // is not overrun every other window), and the climb from it took up to 1 s.
    const after = meanInFlight(api.timeline, movedAt + 3000, end - 200);
    console.log(`knee 8: ${before.toFixed(1)} in flight; knee 24: ${after.toFixed(1)}; ${api.refused} refused`);
    expect(before).toBeGreaterThanOrEqual(6);
    expect(before).toBeLessThanOrEqual(10);
    expect(after).toBeGreaterThanOrEqual(18);
    expect(after).toBeLessThanOrEqual(24 + 16);
    const [line] = result.sink.lines;
    expect(line).toMatch(
      /^ {2}concurrency auto \(max 64\): limit min \d+, median \d+, max \d+; API latency p50 [\d.]+ ms, p99 [\d.]+ ms/,
    );
    const json = result.sink.json.adaptiveConcurrency as { limitMax: number; latencyP50Ms: number };
    expect(json.limitMax).toBeGreaterThanOrEqual(20);
    expect(json.limitMax).toBeLessThanOrEqual(64);
    expect(json.latencyP50Ms).toBeGreaterThanOrEqual(100);
  }, 60_000);

  it('a Retry-After one lane got holds every lane: no request arrives until it has passed', async () => {
    await using dir = await tempDir();
    const rows = 1200;
    const from = await dir.file('rows.ndjson', makeRows(rows));
    await using api = await startCapacityApi({ workers: 16, serviceMs: 20, queue: 16 });
    const stop = when(
      () => api.ids.length >= 300,
      () => api.refuseNext(1, '1'),
    );
    const result = await importWith({ from, to: api.url, batchSize: '1', concurrency: 'auto', maxConcurrency: '32' });
    stop();
    expect(result.stoppedBy).toBe('completed');
    expect(sortedIds(api)).toEqual(range(1, rows));
    const first = api.timeline.find((p) => p.event === 'refused');
    expect(first).toBeDefined();
    const at = first?.at ?? 0;
    // Requests already on the wire when the first 503 went out may still arrive in the next few ms;
    // after that, nothing until the Retry-After (1 s) has passed, from any lane.
    const arrivals = api.timeline.filter((p) => p.event !== 'end' && p.at > at + 100 && p.at < at + 950);
    expect(arrivals).toEqual([]);
    expect(result.sink.lines[0]).toMatch(/[1-9]\d* Retry-After brakes/);
  }, 60_000);
});
