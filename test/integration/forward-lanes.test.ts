import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { forwardConfig } from '../../src/config/forward-config.js';
import { forwardSummary } from '../../src/cli/forward-run.js';
import { runForward } from '../../src/run-forward.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { enqueueRows } from '../helpers/queue-fixtures.js';
import { lanesAtEnd, startStickyBalancer, upAfter, type StickyBalancer } from '../helpers/sticky-balancer.js';

/**
 * `forward` re-places its pollers' sticky lanes as `run` does (lane-placement.ts): each poller is
 * one "container" with its own lanes, and the summary adds their placements up.
 */
let sqs: LocalSqs;

beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

/** Every id 1..rows arrived exactly once (2xx), and no other. */
function expectEachOnce(lb: StickyBalancer, rows: number): void {
  const counts = new Map<string, number>();
  for (const b of lb.backends) for (const id of b.acceptedIds()) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect(counts.size).toBe(rows);
  for (let id = 1; id <= rows; id++) expect(counts.get(String(id)), `id ${id}`).toBe(1);
}

describe('forward: lanes follow a changing fleet', () => {
  test('2 pollers, a target down at the start and back after 2 s, --restick-after 1s: lanes end on all three', async () => {
    const rows = 24_000;
    const q = await sqs.createQueue('fwd-lanes-back');
    await enqueueRows(sqs, q.url, rows, 20, 'fwd-lanes');
    await using lb = await startStickyBalancer({
      backends: [{ latencyMs: 15 }, { latencyMs: 15 }, { latencyMs: 15 }],
      down: ['b3'],
    });
    const config = forwardConfig(
      {
        queue: q.url,
        sqsEndpoint: sqs.endpoint,
        to: lb.url,
        batchSize: 10,
        concurrency: 4,
        pollers: 2,
        restickAfter: '1s',
        untilEmpty: true,
      },
      {},
    );
    const t0 = Date.now();
    const cancel = upAfter(lb, 'b3', 2000);
    const result = await runForward(config, { log: () => undefined });
    cancel();
    const took = Date.now() - t0;
    expect(result.stoppedBy).toBe('empty');
    expect(result.delivered).toBe(rows);
    expect(result.deleted).toBe(result.received);
    expectEachOnce(lb, rows);
    // The run outlasted the outage by a few restick periods, or the test proves nothing.
    expect(took).toBeGreaterThan(4000);

    const end = Math.max(...lb.backends.flatMap((b) => b.requests.map((r) => r.at)));
    const spread = lanesAtEnd(lb, end - 1000);
    const p = result.lanePlacement;
    console.log(`forward lanes at the end: ${JSON.stringify(spread)}; ${JSON.stringify(p)}; ${took} ms`);
    // b3 was down at the start: every lane began on b1 or b2. At the end all three hold lanes…
    for (const n of Object.values(spread)) expect(n).toBeGreaterThanOrEqual(1);
    // …as both pollers' reports, added up, say (targets by the balancer cookie, hashed).
    expect(p).toBeDefined();
    expect(p?.by).toBe('cookie AWSALB');
    expect(Object.keys(p?.lanesPerTarget ?? {})).toHaveLength(3);
    for (const key of Object.keys(p?.lanesPerTarget ?? {})) expect(key).toMatch(/^#[0-9a-f]{8}$/);
    const placed = Object.values(p?.lanesPerTarget ?? {}).reduce((n, x) => n + x, 0);
    expect(placed).toBeLessThanOrEqual(result.lanes.length);
    expect(result.lanes.length).toBeLessThanOrEqual(8);
    expect(p?.replaced.restickAfter).toBeGreaterThan(0);
    expect(p?.restickAfterMs).toBe(1000);
    // b3 took a real share of the rows forwarded after it came back.
    expect(lb.backends[2]?.acceptedIds().length).toBeGreaterThan(rows * 0.1);

    // The summary says the same, with cookie values only as hashes.
    const summary = forwardSummary(result);
    const line = summary.split('\n').find((l) => l.startsWith('  lanes per target'));
    expect(line).toMatch(
      /^ {2}lanes per target \(by cookie AWSALB, hashed\): #[0-9a-f]{8} \d, #[0-9a-f]{8} \d, #[0-9a-f]{8} \d; re-placed \d+ lanes \(\d+ uneven, [1-9]\d* restick-after\)/,
    );
    for (const b of lb.backends) expect(summary).not.toContain(Buffer.from(`alb-sim:${b.name}`).toString('base64'));
  }, 90_000);

  test('a fleet that does not change: --restick-after off re-places nothing; the lanes stay spread', async () => {
    const rows = 6000;
    const q = await sqs.createQueue('fwd-lanes-steady');
    await enqueueRows(sqs, q.url, rows, 20, 'fwd-lanes');
    await using lb = await startStickyBalancer({ backends: [{ latencyMs: 5 }, { latencyMs: 5 }, { latencyMs: 5 }] });
    const config = forwardConfig(
      {
        queue: q.url,
        sqsEndpoint: sqs.endpoint,
        to: lb.url,
        batchSize: 10,
        concurrency: 3,
        pollers: 2,
        restickAfter: 'off',
        targetHeader: 'x-backend',
        untilEmpty: true,
      },
      {},
    );
    const result = await runForward(config, { log: () => undefined });
    expect(result.delivered).toBe(rows);
    expectEachOnce(lb, rows);
    const p = result.lanePlacement;
    expect(p).toMatchObject({ by: 'header x-backend', replaced: { restickAfter: 0 }, restickAfterMs: 0 });
    // Round robin gives each poller's 3 lanes one target each: 2 per target over both pollers. If
    // the two pollers' first requests interleave at the balancer, a poller may start with two lanes
    // on one target: then it moves one (uneven), and only that.
    expect(p?.replaced.uneven).toBeLessThanOrEqual(4);
    expect(p?.lanesPerTarget).toEqual({ b1: 2, b2: 2, b3: 2 });
    expect(forwardSummary(result)).toMatch(
      /\n {2}lanes per target \(by header x-backend\): b1 2, b2 2, b3 2; re-placed \d lanes/,
    );
  }, 60_000);
});
