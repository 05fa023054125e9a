import { describe, expect, it } from 'vitest';
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
    expect(result.lanes.every((l) => l.sticky)).toBe(true);
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

  it('--sticky shared: one jar for all lanes, so every lane sends the latest cookie any lane got', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(600));
    await using lb = await startStickyBalancer({ backends: 3 });
    await importWith({ from, to: lb.url, batchSize: '10', concurrency: '4', sticky: 'shared' });
    const routes = lb.routes();
    expect(routes.reduce((n, r) => n + r.requests, 0)).toBe(60);
    // Only the first wave goes out before any response has filled the shared jar.
    expect(routes.reduce((n, r) => n + r.withCookie, 0)).toBeGreaterThanOrEqual(60 - 4);
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
});
