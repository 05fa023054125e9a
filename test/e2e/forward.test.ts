import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { SqsSink } from '../../src/sink/sqs-sink.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { startStickyBalancer, type StickyBalancer } from '../helpers/sticky-balancer.js';
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
async function enqueue(queueUrl: string, rows: number, rowsPerMessage?: number): Promise<void> {
  const sink = new SqsSink({
    queueUrl,
    connection: sqs.connection,
    job: 'fwd-job',
    messageBytes: 16_384,
    ...(rowsPerMessage ? { rowsPerMessage } : {}),
    concurrency: 8,
    retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 100 },
  });
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
    const args = [
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items`,
      '--pollers',
      '3',
      '--concurrency',
      '2',
      '--batch-size',
      '50',
      '--until-empty',
    ];
    const res = await runCli(args, { timeoutMs: 90_000 });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /^forward: \d+ messages \(\d+ deleted, 0 left for redelivery\), 20000 rows delivered, 0 rejected/,
    );

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
    for (const r of routes)
      backendsPerConnection.set(r.socketId, (backendsPerConnection.get(r.socketId) ?? new Set()).add(r.backend));
    expect([...backendsPerConnection.values()].every((s) => s.size === 1)).toBe(true);
    const cookieless = routes.reduce((n, r) => n + r.requests - r.withCookie, 0);
    expect(cookieless).toBeLessThanOrEqual(3 * 2);
  });

  test('SIGTERM: stops receiving, finishes and deletes what it holds, exits 143', async () => {
    const q = await sqs.createQueue('forward-stop');
    await enqueue(q.url, 5_000);
    for (const b of lb.backends) b.setLatency(20);
    const cli = startCli([
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items`,
      '--pollers',
      '2',
      '--concurrency',
      '1',
    ]);
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

  test('rows the API refuses go, alone, to --rejects-queue; every message is deleted; exit 1', async () => {
    const q = await sqs.createQueue('forward-reject');
    const rejects = await sqs.createQueue('forward-reject-rejects');
    await enqueue(q.url, 300);
    const bad = new Set(['42', '137', '138']);
    for (const b of lb.backends)
      b.setFault(({ ids }) =>
        ids.some((id) => bad.has(id)) ? { status: 422, body: '{"error":"bad row"}' } : undefined,
      );
    const args = [
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items`,
      '--batch-size',
      '50',
      '--rejects-queue',
      rejects.url,
      '--until-empty',
    ];
    const res = await runCli(args, { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/297 rows delivered, 3 rejected \(to the rejects queue\)/);
    const arrived = lb.backends.flatMap((b) => b.acceptedIds());
    const set = await drainQueue(sqs.sqs, rejects.url);
    const setAside = idsIn(set).map(String);
    expect(setAside.sort()).toEqual([...bad].sort());
    expect([...arrived, ...setAside].sort()).toEqual(range(300).sort());
    for (const m of set)
      expect(
        (JSON.parse(m.Body as string) as { failures: { status: number }[] }).failures.every((f) => f.status === 422),
      ).toBe(true);
    // One line per message with refused rows; the rows themselves (personal data) are not logged.
    const lines = res.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(lines.every((l) => l.event === 'rows_rejected')).toBe(true);
    expect(res.stderr).not.toContain('listing 42');
    expect(await sqs.depth(q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('without --rejects-queue a message holding a refused row is not deleted: it reaches the DLQ whole', async () => {
    const q = await sqs.createQueueWithDlq('forward-keep', 1);
    await enqueue(q.url, 200, 20);
    for (const b of lb.backends) b.setFault(({ ids }) => (ids.includes('55') ? { status: 400 } : undefined));
    const args = [
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items`,
      '--batch-size',
      '10',
      '--visibility-timeout',
      '3',
      '--pollers',
      '1',
      '--until-empty',
    ];
    const res = await runCli(args, { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    const parked = idsIn(await drainQueue(sqs.sqs, q.dlqUrl)).map(String);
    expect(parked.sort()).toEqual(range(60).slice(40).sort()); // the message of rows 41–60, whole
    const arrived = new Set(lb.backends.flatMap((b) => b.acceptedIds()));
    expect(arrived.has('55')).toBe(false);
    expect([...new Set([...arrived, ...parked])].sort()).toEqual(range(200).sort());
    expect(await sqs.depth(q.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('an API answering 401 to everything: no message is deleted, all reach the DLQ; said once', async () => {
    const q = await sqs.createQueueWithDlq('forward-401', 1);
    await enqueue(q.url, 100, 10);
    for (const b of lb.backends) b.setFault(() => ({ status: 401, body: 'who are you?' }));
    const args = [
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items?token=sekret-in-url`,
      '--visibility-timeout',
      '3',
      '--pollers',
      '1',
      '--until-empty',
    ];
    const res = await runCli(args, { timeoutMs: 60_000 });
    expect(res.code).toBe(1);
    expect(lb.backends.flatMap((b) => b.acceptedIds())).toEqual([]);
    expect(idsIn(await drainQueue(sqs.sqs, q.dlqUrl)).sort((a, b) => a - b)).toEqual(range(100).map(Number));
    const lines = res.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; status: number });
    expect(lines).toEqual([expect.objectContaining({ event: 'endpoint_refused', status: 401 })]);
    expect(res.stderr).not.toContain('sekret-in-url');
    expect(res.stdout).toMatch(/0 deleted/);
  });

  test('--rate is a total over all pollers: 2 pollers at --rate 20 make at most ~20 requests in any second', async () => {
    const q = await sqs.createQueue('forward-rate');
    await enqueue(q.url, 80, 2);
    const args = [
      'forward',
      '--queue',
      q.url,
      '--sqs-endpoint',
      sqs.endpoint,
      '--to',
      `${lb.url}/items`,
      '--batch-size',
      '1',
      '--concurrency',
      '4',
      '--pollers',
      '2',
      '--rate',
      '20',
      '--until-empty',
    ];
    const res = await runCli(args, { timeoutMs: 60_000 });
    expect(res.code).toBe(0);
    const at = lb.backends.flatMap((b) => b.requests.map((r) => r.at)).sort((a, b) => a - b);
    expect(at).toHaveLength(80);
    let most = 0;
    for (let i = 0, j = 0; j < at.length; j++) {
      while ((at[j] as number) - (at[i] as number) >= 1000) i++;
      most = Math.max(most, j - i + 1);
    }
    // Per poller it was 40 a second. Arrivals on a loaded machine can bunch a little, never on average.
    expect(most).toBeLessThanOrEqual(30);
    const perSecond = ((at.length - 1) * 1000) / ((at.at(-1) as number) - (at[0] as number));
    expect(perSecond).toBeLessThanOrEqual(22);
  });
});
