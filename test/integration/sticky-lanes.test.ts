import { describe, expect, it } from 'vitest';
import { cookieValue } from '../../src/demo/sandbox/api-backend.js';
import type { LaneReport } from '../../src/index.js';
import { startStickyBalancer } from '../helpers/sticky-balancer.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

describe('sticky lanes behind a load balancer', () => {
  it('--sticky lane: lanes spread over the targets and each sticks to one', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    await using lb = await startStickyBalancer({ backends: 3 });
    const result = await importWith({ from, to: `${lb.url}/listings`, batchSize: '10', concurrency: '6' });
    expect(result.thisRun.delivered).toBe(3000);
    const ids = lb.backends.flatMap((b) => b.acceptedIds());
    expect(new Set(ids)).toEqual(new Set(range(1, 3000)));
    // Each connection (lane) was served by exactly one backend, and carried the cookie after its first request.
    const byConn = new Map<number, Set<string>>();
    for (const r of lb.routes()) byConn.set(r.socketId, (byConn.get(r.socketId) ?? new Set()).add(r.backend));
    expect(byConn.size).toBe(6);
    for (const backends of byConn.values()) expect(backends.size).toBe(1);
    for (const r of lb.routes()) expect(r.withCookie).toBe(r.requests - 1);
    // Round robin placed the six lanes on all three targets.
    expect(new Set([...byConn.values()].map((s) => [...s][0])).size).toBe(3);
    expect((result.sink.json.lanes as LaneReport[]).every((l) => l.sticky)).toBe(true);
    expect(result.sink.via).toMatch(/^ over 6 lanes \(6 holding a sticky cookie(, 3 targets seen)?\)$/);
  });

  it('--sticky off: no cookies, so every connection is spread over all targets', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(600));
    await using lb = await startStickyBalancer({ backends: 3 });
    await importWith({ from, to: lb.url, batchSize: '10', concurrency: '2', sticky: 'off' });
    expect(lb.routes().every((r) => r.withCookie === 0)).toBe(true);
    const perConn = new Map<number, number>();
    for (const r of lb.routes()) perConn.set(r.socketId, (perConn.get(r.socketId) ?? 0) + 1);
    for (const n of perConn.values()) expect(n).toBe(3);
  });

  it('--sticky shared: the first cookie wins, so every request after the first goes to one target (issue 8, item 20)', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    await using lb = await startStickyBalancer({ backends: 3 });
    const result = await importWith({ from, to: lb.url, batchSize: '10', concurrency: '8', sticky: 'shared' });
    expect(result.thisRun.delivered).toBe(2000);
    const requests = lb.backends.flatMap((b) => b.requests).sort((a, b) => a.at - b.at);
    expect(requests).toHaveLength(200);
    // All on one backend: the one the first request was placed on.
    expect(lb.backends.filter((b) => b.requests.length > 0)).toHaveLength(1);
    const values = new Set(requests.map((r) => cookieValue(r.headers.cookie, 'AWSALB')));
    expect(requests.filter((r) => r.headers.cookie === undefined)).toHaveLength(1);
    values.delete(undefined);
    expect(values.size).toBe(1);
  });

  it('--sticky shared: when the shared target fails, all lanes move to one new target', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    await using lb = await startStickyBalancer({ backends: 3 });
    const [b1] = lb.backends;
    b1!.setLatency(5);
    // The first request lands on b1 (round robin starts there); after 30 requests b1 leaves the rotation.
    b1!.setFault(({ n }) => {
      if (n === 30) lb.setHealthy('b1', false);
      return undefined;
    });
    const result = await importWith({ from, to: lb.url, batchSize: '10', concurrency: '8', sticky: 'shared' });
    expect(result.thisRun).toMatchObject({ delivered: 2000, failed: 0 });
    const [target, other] = lb.backends.slice(1).sort((a, b) => b.requests.length - a.requests.length);
    const old = Buffer.from('alb-sim:b1').toString('base64');
    const own = Buffer.from(`alb-sim:${target!.name}`).toString('base64');
    // Only requests already in flight under b1's cookie when it left were placed by round robin
    // (so some on the other target); every request after carries the new target's cookie.
    expect(other!.requests.length).toBeLessThanOrEqual(8);
    for (const r of other!.requests) expect(cookieValue(r.headers.cookie, 'AWSALB')).toBe(old);
    const notOwn = target!.requests.filter((r) => cookieValue(r.headers.cookie, 'AWSALB') !== own);
    expect(notOwn.length).toBeLessThanOrEqual(8);
    for (const r of notOwn) expect(cookieValue(r.headers.cookie, 'AWSALB')).toBe(old);
  });

  it('a lane whose target keeps failing drops its cookie and is re-placed on a healthy one', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(400));
    await using lb = await startStickyBalancer({ backends: 2 });
    const [b1] = lb.backends;
    // b1 answers 503 to everything but stays "healthy" in the balancer's eyes (a sick app, not a failed health check).
    b1!.setFault(() => ({ status: 503 }));
    const result = await importWith({ from, to: lb.url, batchSize: '10', concurrency: '2', retries: '8' });
    expect(result.thisRun.delivered).toBe(400);
    expect(new Set(lb.backends[1]!.acceptedIds())).toEqual(new Set(range(1, 400)));
  });

  it("a lane fleeing a failing target does not take that target's cookie from its 503 (issue 8, item 15)", async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    await using lb = await startStickyBalancer({ backends: 3 });
    const [, b2] = lb.backends;
    // b2 works for its first 40 requests (lanes stick to it), then answers 503 to everything while the
    // balancer keeps it in rotation and sets b2's cookie on those 503s, as HAProxy does.
    b2!.setFault(({ n }) => (n > 40 ? { status: 503 } : undefined));
    const result = await importWith({ from, to: lb.url, batchSize: '10', concurrency: '9', retries: '5' });
    expect(result.thisRun).toMatchObject({ delivered: 3000, failed: 0 });
    expect(new Set(lb.backends.flatMap((b) => b.acceptedIds()))).toEqual(new Set(range(1, 3000)));
    // Only the lanes stuck to b2 before it failed send its cookie, at most 3 times each (then they drop it).
    const own = Buffer.from('alb-sim:b2').toString('base64');
    const withB2Cookie = b2!.requests.filter(
      (r) => r.status === 503 && cookieValue(r.headers.cookie, 'AWSALB') === own,
    );
    const lanesOnB2 = new Set(b2!.requests.filter((r) => r.status === 200).map((r) => r.socketId)).size;
    expect(lanesOnB2).toBeGreaterThan(0);
    expect(withB2Cookie.length).toBeLessThanOrEqual(3 * lanesOnB2);
  });

  it("a lane that drops its cookie borrows a working lane's, so round robin cannot put it back on the failing target", async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    await using lb = await startStickyBalancer({ backends: 3 });
    const [, b2] = lb.backends;
    b2!.setFault(({ n }) => (n > 20 ? { status: 503 } : undefined));
    // Three attempts on b2, the drop, and one attempt left: re-placed by rotation, two lanes landed on b2 again.
    const result = await importWith({ from, to: lb.url, batchSize: '10', concurrency: '16', retries: '3' });
    expect(result.thisRun).toMatchObject({ delivered: 3000, failed: 0 });
    // Past the first 20 requests b2 only ever sees the lanes' first three tries; none came back after a drop.
    const lanes = new Set(b2!.requests.map((r) => r.socketId));
    expect(b2!.requests.filter((r) => r.status === 503).length).toBeLessThanOrEqual(3 * lanes.size);
  });
});
