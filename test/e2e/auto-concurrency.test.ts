import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { startCapacityApi } from '../helpers/capacity-api.js';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

describe('run --concurrency auto (the binary)', () => {
  it('delivers every row once and says what limit it held and what latency the API gave', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(600));
    await using api = await startCapacityApi({ workers: 8, serviceMs: 10, queue: 8 });
    const r = await runCli(
      ['run', '--from', from, '--to', api.url, '--batch-size', '2', '--concurrency', 'auto', '--max-concurrency', '32'],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(0);
    expect([...api.ids].sort((a, b) => Number(a) - Number(b))).toEqual(range(1, 600));
    expect(r.stdout).toMatch(
      /concurrency auto \(max 32\): limit min \d+, median \d+, max \d+; API latency p50 [\d.]+ ms, p99 [\d.]+ ms; \d+ backoffs/,
    );
  }, 60_000);

  it('kill -9 while the limit moves, then --resume: every row once in the counts, re-sends bounded', async () => {
    await using dir = await tempDir();
    const rows = 20_000;
    const from = await dir.file('rows.ndjson', makeRows(rows));
    const ckpt = `${dir.path}/auto.ckpt.json`;
    // 503 now and then: the limiter backs off and grows again while the run is killed.
    await using sink = await startHttpSink({
      record: 'ids',
      fault: ({ n }) => (n % 40 === 0 ? { status: 503 } : { delayMs: 5 }),
    });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '10',
      '--concurrency',
      'auto',
      '--max-concurrency',
      '32',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const cli = startCli(args);
    for (const end = Date.now() + 30_000; sink.counts.rows < 5_000 && Date.now() < end; ) await sleep(2);
    cli.child.kill('SIGKILL');
    expect((await cli.done()).signal).toBe('SIGKILL');
    const atKill = sink.acceptedIds().length;
    const killed = JSON.parse(await readFile(ckpt, 'utf8'));
    const done = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(done.code, done.stderr).toBe(0);
    const ids = sink.acceptedIds();
    expect(new Set(ids)).toEqual(new Set(range(1, rows)));
    expect(JSON.parse(await readFile(ckpt, 'utf8')).rows).toEqual({
      read: rows,
      delivered: rows,
      failed: 0,
      skipped: 0,
    });
    // Only what the checkpoint had not recorded at the kill goes again: rows the sink had taken by
    // then, plus what it was still answering (at most --max-concurrency requests of 10 rows).
    expect(ids.length - rows).toBeLessThanOrEqual(atKill - killed.rows.delivered + 32 * 10);
  }, 120_000);

  it('is refused with --queue: one line, exit 2', async () => {
    const q = 'http://127.0.0.1:9/000000000000/q';
    const r = await runCli(['run', '--from', 'rows.ndjson', '--queue', q, '--concurrency', 'auto']);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/--concurrency auto is for direct mode; --queue takes a number/);
  });
});
