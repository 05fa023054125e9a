import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { runCli, startCli } from '../helpers/cli.js';
import { makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

const ROWS = 20_000;

async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

function duplicates(sink: HttpSink): number {
  return sink.acceptedIds().length - sink.idCounts().size;
}

describe.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('graceful stop on %s', (signal, code) => {
  it(`finishes in-flight requests, writes the checkpoint, exits ${code}; --resume completes with ≤ 1% duplicates`, async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(ROWS));
    const ckpt = `${dir.path}/job.ckpt.json`;
    await using sink = await startHttpSink({ latencyMs: 20, record: 'ids' });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '50',
      '--concurrency',
      '8',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const cli = startCli(args);
    await until(() => sink.counts.requests >= 40);
    cli.child.kill(signal);
    const stopped = await cli.done();
    expect(stopped.code, stopped.stderr).toBe(code);
    expect(stopped.stderr).toContain('resume with: bulk-import run');
    expect(stopped.stderr).toContain('--resume');
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint.complete).toBe(false);
    expect(checkpoint.rows.delivered).toBe(sink.acceptedIds().length);
    expect(checkpoint.rows.delivered).toBeLessThan(ROWS);

    const resumed = await runCli([...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, ROWS)));
    expect(duplicates(sink)).toBeLessThanOrEqual(ROWS / 100);
    const done = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(done).toMatchObject({ complete: true, runs: 2, rows: { delivered: ROWS, failed: 0 } });

    const status = await runCli(['status', ckpt]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/complete/);
    expect(status.stdout).toContain(`${ROWS} done: ${ROWS} delivered, 0 failed`);
  });
});

describe('--limit across a resume', () => {
  it('counts the rows earlier runs read: the job stops at the limit, not the limit again', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(5000));
    const ckpt = `${dir.path}/job.ckpt.json`;
    await using sink = await startHttpSink({ latencyMs: 20, record: 'ids' });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '10',
      '--concurrency',
      '4',
      '--limit',
      '3000',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const cli = startCli(args);
    await until(() => sink.counts.requests >= 30);
    cli.child.kill('SIGINT');
    expect((await cli.done()).code).toBe(130);
    expect((await runCli([...args, '--resume'])).code).toBe(0);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 3000)));
  });
});

describe('a second signal aborts in-flight requests', () => {
  it('exits promptly with the checkpoint still consistent', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    const ckpt = `${dir.path}/job.ckpt.json`;
    await using sink = await startHttpSink({ latencyMs: 30_000, record: 'ids' });
    const cli = startCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '10',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ]);
    await until(() => sink.counts.requests >= 4);
    cli.child.kill('SIGINT');
    await sleep(200);
    cli.child.kill('SIGINT');
    const t0 = Date.now();
    const r = await cli.done();
    expect(r.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000); // not the 30 s the API would take to answer
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint.watermark).toBeNull();
  });
});

describe('a checkpoint of another job', () => {
  it('is refused with exit 2 and a one-line reason', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(10));
    const ckpt = `${dir.path}/job.ckpt.json`;
    await using sink = await startHttpSink({ record: 'count' });
    expect((await runCli(['run', '--from', from, '--to', sink.url, '--checkpoint', ckpt, '--no-progress'])).code).toBe(
      0,
    );
    const other = await runCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '7',
      '--checkpoint',
      ckpt,
      '--resume',
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr.trim()).toMatch(/^bulk-import: checkpoint .* is for another job: batchSize was 100, now 7$/);
  });

  it('an unfinished checkpoint is not overwritten without --resume or --restart', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    const ckpt = `${dir.path}/job.ckpt.json`;
    await using sink = await startHttpSink({ latencyMs: 30, record: 'count' });
    const cli = startCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '10',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ]);
    await until(() => sink.counts.requests >= 10);
    cli.child.kill('SIGINT');
    expect((await cli.done()).code).toBe(130);
    const again = await runCli(['run', '--from', from, '--to', sink.url, '--batch-size', '10', '--checkpoint', ckpt]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/unfinished run: add --resume to carry on, or --restart to start over/);
  });
});
