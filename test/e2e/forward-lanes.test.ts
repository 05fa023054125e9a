import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { SqsSink } from '../../src/sink/sqs-sink.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { makeBatches } from '../helpers/queue-fixtures.js';
import { startStickyBalancer } from '../helpers/sticky-balancer.js';

/** `forward`'s lanes per target and --restick-after, through the binary. */
let sqs: LocalSqs;

beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

async function enqueue(queueUrl: string, rows: number): Promise<void> {
  const sink = new SqsSink({
    queueUrl,
    connection: sqs.connection,
    job: 'fwd-lanes-e2e',
    messageBytes: 65_536,
    rowsPerMessage: 20,
    concurrency: 8,
    retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 100 },
  });
  const never = new AbortController().signal;
  try {
    for await (const _ of sink.deliver(makeBatches(rows, 100, 120), { signal: never, hardSignal: never })) void _;
  } finally {
    await sink.close();
  }
}

describe('bulk-import forward: lanes per target', () => {
  test('the summary shows lanes per target over all pollers, cookie values as short hashes only', async () => {
    const q = await sqs.createQueue('fwd-lanes-e2e');
    await enqueue(q.url, 3000);
    await using lb = await startStickyBalancer({ backends: 3 });
    const res = await runCli(
      [
        'forward',
        ...['--queue', q.url, '--sqs-endpoint', sqs.endpoint, '--to', `${lb.url}/items`],
        ...['--pollers', '2', '--concurrency', '3', '--batch-size', '10', '--restick-after', '2m', '--until-empty'],
      ],
      { timeoutMs: 60_000 },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^forward: \d+ messages \(\d+ deleted, 0 left for redelivery\), 3000 rows delivered/);
    const line = res.stdout.split('\n').find((l) => l.startsWith('  lanes per target'));
    // 2 pollers × 3 lanes over 3 targets; each poller's lanes are counted on the target they hold.
    expect(line).toMatch(
      /^ {2}lanes per target \(by cookie AWSALB, hashed\): (#[0-9a-f]{8} \d(, )?){1,3}; re-placed \d+ lanes/,
    );
    const counts = [...(line ?? '').matchAll(/#[0-9a-f]{8} (\d)/g)].map((m) => Number(m[1]));
    expect(counts.reduce((n, x) => n + x, 0)).toBe(6);
    const values = lb.backends.map((b) => Buffer.from(`alb-sim:${b.name}`).toString('base64'));
    for (const v of values) expect(`${res.stdout}${res.stderr}`).not.toContain(v);
    expect(new Set(lb.backends.flatMap((b) => b.acceptedIds())).size).toBe(3000);
  }, 90_000);

  test.each([
    [['--restick-after', 'soon'], '--restick-after must be a duration like 5m or 30s, or off (got "soon")'],
    [['--restick-after', '-1s'], '--restick-after must be a duration like 5m or 30s, or off (got "-1s")'],
    [['--target-header', 'x backend'], '--target-header: "x backend" is not a valid header name'],
  ])('%o: one line, exit 2, before any queue is touched', async (flags, message) => {
    const res = await runCli([
      'forward',
      ...['--queue', 'http://127.0.0.1:9/000000000000/q', '--to', 'http://127.0.0.1:9/x'],
      ...flags,
    ]);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toBe(`bulk-import: ${message}`);
    expect(res.stdout).toBe('');
  });
});
