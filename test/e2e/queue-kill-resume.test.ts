import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSqs, startLocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { runCli, startCli } from '../helpers/cli.js';
import { drainQueue, idsIn, makeRow } from '../helpers/queue-fixtures.js';
import { startSqsFaultProxy } from '../helpers/sqs-fault-proxy.js';
import { tempDir } from '../helpers/tmp.js';

/** Queue mode keeps every row's fate across kills too: counted once, re-sent only what was in flight. */
const ROWS = 20_000;
const CONCURRENCY = 4;

let sqs: LocalSqs;
beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs?.close();
});

describe('run --queue killed and resumed', () => {
  it('enqueues every row; a kill while a call retries re-sends at most what was in flight', async () => {
    await using dir = await tempDir();
    const q = await sqs.createQueue('kill-resume');
    const from = `${dir.path}/rows.ndjson`;
    await writeFile(from, Array.from({ length: ROWS }, (_, i) => `${makeRow(i + 1, 200)}\n`).join(''));
    // A slow queue (100 ms a call) and every 7th call throttled once: calls finish out of order, and
    // one waits out a backoff while the others go on.
    await using proxy = await startSqsFaultProxy(sqs.endpoint, (n) =>
      n % 7 === 3 ? { kind: 'error', status: 400, type: 'ThrottlingException' } : { kind: 'delay', ms: 100 },
    );
    const ckpt = `${dir.path}/q.ckpt.json`;
    const args = [
      'run',
      '--from',
      from,
      '--queue',
      q.url,
      '--sqs-endpoint',
      proxy.endpoint,
      '--batch-size',
      '20',
      '--message-bytes',
      '4096',
      '--concurrency',
      String(CONCURRENCY),
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
    let callsPerSecond = 0; // the fastest of the killed runs, from its first call to the kill
    for (const [k, calls] of [
      [0, 30],
      [1, 40],
    ] as const) {
      const cli = startCli(k === 0 ? args : [...args, '--resume'], { env });
      const before = proxy.batches.length;
      for (const end = Date.now() + 30_000; proxy.batches.length === before && Date.now() < end; ) await sleep(2);
      const flowing = Date.now();
      for (const end = flowing + 30_000; proxy.batches.length < before + calls && Date.now() < end; ) await sleep(2);
      callsPerSecond = Math.max(
        callsPerSecond,
        ((proxy.batches.length - before) * 1000) / Math.max(1, Date.now() - flowing),
      );
      cli.child.kill('SIGKILL');
      expect((await cli.done()).signal).toBe('SIGKILL');
      const c = JSON.parse(await readFile(ckpt, 'utf8'));
      expect(c.rows.read).toBeLessThanOrEqual(ROWS);
    }
    const done = await runCli([...args, '--resume'], { env, timeoutMs: 120_000 });
    expect(done.code, done.stderr).toBe(0);
    const ids = idsIn(await drainQueue(sqs.sqs, q.url));
    expect(new Set(ids).size).toBe(ROWS);
    expect(Math.min(...ids)).toBe(1);
    expect(Math.max(...ids)).toBe(ROWS);
    // Per kill at most the calls in flight and what was enqueued in one checkpoint interval (100 ms;
    // 300 ms here for a loaded machine's late timers), at the rate the runs reached.
    const rowsPerCall = ids.length / proxy.batches.length;
    const bound = 2 * (CONCURRENCY * rowsPerCall + callsPerSecond * rowsPerCall * 0.3);
    console.log(`queue kill -9 ×2: ${ids.length - ROWS} rows enqueued twice (bound ${Math.round(bound)})`);
    expect(ids.length - ROWS).toBeLessThanOrEqual(bound);
    const c = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(c).toMatchObject({ complete: true, rows: { read: ROWS, delivered: ROWS, failed: 0, skipped: 0 } });
  }, 180_000);
});
