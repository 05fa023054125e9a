import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SqsSink } from '../../src/sink/sqs-sink.js';
import { startLocalSqs, type LocalSqs } from '../../src/testkit/fauxqs.js';
import { startStickyBalancer, type StickyBalancer } from '../../src/testkit/sticky-balancer.js';
import { runCli, startCli } from '../helpers/cli.js';
import { drainQueue, idsIn, makeBatches } from '../helpers/queue-fixtures.js';

let sqs: LocalSqs;
let lb: StickyBalancer;

beforeAll(async () => {
  [sqs, lb] = await Promise.all([startLocalSqs(), startStickyBalancer({ backends: 3 })]);
});
afterEach(() => {
  for (const b of lb.backends) {
    b.clear();
    b.setLatency(0);
    b.setFault(undefined);
  }
});
afterAll(async () => {
  await Promise.all([sqs.close(), lb.close()]);
});

/** Enqueues `rows` rows the way `run --queue` does. */
async function enqueue(queueUrl: string, rows: number): Promise<void> {
  const sink = new SqsSink({ queueUrl, connection: sqs.connection, job: 'fwd-job', messageBytes: 16_384, concurrency: 8, retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 100 } });
  const never = new AbortController().signal;
  try {
    for await (const _ of sink.deliver(makeBatches(rows, 100), { signal: never, hardSignal: never })) void _;
  } finally {
    await sink.close();
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));

describe('bulk-import forward', () => {
  test('forwards 20k rows through a sticky balancer until the queue is empty; every lane sticks', async () => {
    const q = await sqs.createQueueWithDlq('forward-all', 5);
    await enqueue(q.url, 20_000);
    const args = ['forward', '--queue', q.url, '--sqs-endpoint', sqs.endpoint, '--to', `${lb.url}/items`, '--pollers', '3', '--concurrency', '2', '--batch-size', '50', '--until-empty'];
    const res = await runCli(args, { timeoutMs: 90_000 });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^forward: \d+ messages \(\d+ deleted, 0 left for redelivery\), 20000 rows delivered, 0 rejected/);

    const counts = new Map<string, number>();
    for (const b of lb.backends) for (const id of b.acceptedIds()) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(range(20_000).sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await sqs.depth(q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await sqs.depth(q.dlqUrl)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    // Each lane (a keep-alive connection with its own jar) stays on one backend, and only a
    // lane's first request went without the balancer's cookie.
    const routes = lb.routes();
    const backendsPerConnection = new Map<number, Set<string>>();
    for (const r of routes) backendsPerConnection.set(r.socketId, (backendsPerConnection.get(r.socketId) ?? new Set()).add(r.backend));
    expect([...backendsPerConnection.values()].every((s) => s.size === 1)).toBe(true);
    const cookieless = routes.reduce((n, r) => n + r.requests - r.withCookie, 0);
    expect(cookieless).toBeLessThanOrEqual(3 * 2);
  });

  test('SIGTERM: stops receiving, finishes and deletes what it holds, exits 143', async () => {
    const q = await sqs.createQueue('forward-stop');
    await enqueue(q.url, 5_000);
    for (const b of lb.backends) b.setLatency(20);
    const cli = startCli(['forward', '--queue', q.url, '--sqs-endpoint', sqs.endpoint, '--to', `${lb.url}/items`, '--pollers', '2', '--concurrency', '1']);
    for (let i = 0; i < 200 && lb.backends.every((b) => b.counts.requests === 0); i++) await sleep(25);
    cli.child.kill('SIGTERM');
    const res = await cli.done(30_000);
    expect(res.code).toBe(143);
    expect(res.stdout).toMatch(/^forward: \d+ messages \(\d+ deleted, 0 left for redelivery\)/);
    // Nothing held was abandoned: no message is in flight, and delivered + still queued = all rows.
    expect((await sqs.depth(q.url)).inFlight).toBe(0);
    const delivered = lb.backends.flatMap((b) => b.acceptedIds());
    const left = idsIn(await drainQueue(sqs.sqs, q.url)).map(String);
    expect(delivered.length).toBeGreaterThan(0);
    expect(left.length).toBeGreaterThan(0);
    expect([...delivered, ...left].sort()).toEqual(range(5_000).sort());
  });

  test('rows the API rejects are logged as JSON lines, their messages deleted, and the exit code is 1', async () => {
    const q = await sqs.createQueue('forward-reject');
    await enqueue(q.url, 300);
    for (const b of lb.backends) b.setFault(({ ids }) => (ids.includes('42') ? { status: 422, body: '{"error":"bad row"}' } : undefined));
    const res = await runCli(['forward', '--queue', q.url, '--sqs-endpoint', sqs.endpoint, '--to', `${lb.url}/items`, '--batch-size', '1', '--until-empty'], { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/299 rows delivered, 1 rejected/);
    const lines = res.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; status: number; row: string });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'row_rejected', status: 422 });
    expect(JSON.parse(lines[0]?.row as string)).toMatchObject({ id: 42 });
    expect(await sqs.depth(q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});
