import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** Lines 1..n as rows {id}, except the given line numbers, which are broken in turn three ways. */
function linesWithBroken(n: number, broken: ReadonlySet<number>): Buffer {
  const parts: Buffer[] = [];
  let k = 0;
  for (let i = 1; i <= n; i++) {
    if (!broken.has(i)) parts.push(Buffer.from(`${JSON.stringify({ id: i })}\n`));
    else if (k++ % 2 === 0) parts.push(Buffer.from(`{"id":${i}, broken\n`));
    else parts.push(Buffer.concat([Buffer.from(`{"id":${i},"s":"caf`), Buffer.from([0xe9]), Buffer.from('"}\n')]));
  }
  return Buffer.concat(parts);
}

interface FailedLine {
  row: unknown;
  error: string;
  attempts: number;
}

async function failedLines(path: string): Promise<FailedLine[]> {
  return (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as FailedLine);
}

/** The byte at which a failed line's source line starts, from its error ("… (at byte 1234): …"). */
const byteOf = (f: FailedLine) => Number(/\(at byte (\d+)\)/.exec(f.error)?.[1]);
const idsOf = (n: number, broken: ReadonlySet<number>) =>
  Array.from({ length: n }, (_, i) => String(i + 1)).filter((id) => !broken.has(Number(id)));

describe('broken NDJSON lines', () => {
  it('are failed rows with their line numbers; the other rows arrive and the run exits 1', async () => {
    await using dir = await tempDir();
    const broken = new Set([10, 15]);
    const from = await dir.file('rows.ndjson');
    await writeFile(from, linesWithBroken(20, broken));
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '4',
      '--failed',
      failed,
      '--no-checkpoint',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/20 rows read, 18 sent, 2 failed/);
    expect(sink.acceptedIds().sort()).toEqual(idsOf(20, broken).sort());
    const lines = await failedLines(failed);
    expect(lines.map((l) => l.error.slice(0, l.error.indexOf(':')))).toEqual([
      'NDJSON line 10 (at byte 81)',
      'NDJSON line 15 (at byte 138)',
    ]);
    expect(lines[0]).toMatchObject({
      row: '{"id":10, broken',
      attempts: 0,
      error: expect.stringContaining('not valid JSON'),
    });
    expect(lines[1]).toMatchObject({
      row: '{"id":15,"s":"caf\uFFFD"}',
      attempts: 0,
      error: expect.stringContaining('invalid UTF-8 at byte 17'),
    });

    // replay never sends a line that was not a row: it fails again, with the reason.
    const requests = sink.counts.requests;
    const again = `${dir.path}/again.ndjson`;
    const replay = await runCli(['replay', failed, '--to', sink.url, '--failed', again, '--no-progress']);
    expect(replay.code, replay.stderr).toBe(1);
    expect(sink.counts.requests).toBe(requests);
    const twice = await failedLines(again);
    expect(twice.map((l) => l.row)).toEqual(lines.map((l) => l.row));
    expect(twice[0]?.error).toMatch(/^not a row, fix the line first: NDJSON line 10/);
  });

  it('count toward --max-failures', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson');
    await writeFile(from, linesWithBroken(300, new Set([3, 5, 7, 9])));
    await using sink = await startHttpSink({ record: 'ids' });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '1',
      '--concurrency',
      '1',
      '--max-failures',
      '2',
      '--no-checkpoint',
      '--failed',
      `${dir.path}/f.ndjson`,
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/too many failures/);
    expect(sink.acceptedIds().length).toBeLessThan(20);
  });

  it('a line over the default --max-line-bytes (16 MiB) is a failed row and the next line is read', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      `{"id":1}\n${JSON.stringify({ id: 2, s: 'x'.repeat(17 * 1024 * 1024) })}\n{"id":3}\n`,
    );
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--failed',
      failed,
      '--no-checkpoint',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(sink.acceptedIds()).toEqual(['1', '3']);
    const [line] = await failedLines(failed);
    expect(line?.error).toMatch(/^NDJSON line 2 \(at byte 9\): 17825807 bytes, over --max-line-bytes 16777216/);
    expect(line?.row).toBe(`{"id":2,"s":"${'x'.repeat(256 - 13)}`);
  });

  it('--max-line-bytes sets the cap', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      `{"id":1}\n${JSON.stringify({ id: 2, s: 'x'.repeat(200) })}\n{"id":3}\n`,
    );
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--failed',
      failed,
      '--max-line-bytes',
      '100',
      '--no-checkpoint',
      '--no-progress',
    ];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(1);
    expect(sink.acceptedIds()).toEqual(['1', '3']);
    expect((await failedLines(failed))[0]?.error).toMatch(/over --max-line-bytes 100 /);
  });
});

describe('kill -9 and --resume over a file with broken lines', () => {
  it('delivers every good row and records every broken line exactly once, whatever the kills', async () => {
    await using dir = await tempDir();
    const N = 6000;
    const broken = new Set(Array.from({ length: 60 }, (_, i) => 50 + i * 97));
    const from = await dir.file('rows.ndjson');
    await writeFile(from, linesWithBroken(N, broken));
    const failed = `${dir.path}/f.ndjson`;
    const ckpt = `${dir.path}/c.ckpt.json`;
    await using sink = await startHttpSink({ latencyMs: 15, record: 'ids' });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '10',
      '--concurrency',
      '2',
      '--failed',
      failed,
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    for (let kill = 0; kill < 3; kill++) {
      const cli = startCli(kill === 0 ? args : [...args, '--resume']);
      const before = sink.counts.rows;
      for (const end = Date.now() + 30_000; sink.counts.rows === before && Date.now() < end; ) await sleep(10);
      await sleep(200 + Math.random() * 500);
      cli.child.kill('SIGKILL');
      expect((await cli.done()).signal).toBe('SIGKILL');
    }
    const last = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(last.code, last.stderr).toBe(1);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(idsOf(N, broken)));
    const counts = new Map<number, number>();
    for (const f of await failedLines(failed)) counts.set(byteOf(f), (counts.get(byteOf(f)) ?? 0) + 1);
    // A resume cuts the failed file back to the size its checkpoint recorded, then handles those batches again.
    expect(counts.size).toBe(broken.size);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    const final = JSON.parse(await readFile(ckpt, 'utf8')) as { rows: { failed: number; read: number } };
    expect(final.rows.failed).toBe(broken.size);
    expect(final.rows.read).toBe(N);
  }, 180_000);
});
