import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { runCli } from '../helpers/cli.js';
import { makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

const REJECTED = ['17', '512', '999'];

describe('failed rows file and replay', () => {
  it('writes exactly the rejected rows, exits 1, and replay against a fixed API delivers them', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      makeRows(1000, (i) => ({ big: '9007199254740993', n: i })),
    );
    const failed = `${dir.path}/rows.failed.ndjson`;
    await using picky = await startHttpSink({ rejectIds: REJECTED, record: 'ids' });
    const run = await runCli([
      'run',
      '--from',
      from,
      '--to',
      picky.url,
      '--batch-size',
      '1',
      '--concurrency',
      '4',
      '--failed',
      failed,
      '--no-checkpoint',
      '--no-progress',
      '-H',
      'Authorization: Bearer sekrit-token-1',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/997 sent, 3 failed/);
    const lines = (await readFile(failed, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => String(l.row.id)).sort()).toEqual([...REJECTED].sort());
    for (const l of lines)
      expect(l).toMatchObject({ status: 400, attempts: 1, error: expect.stringContaining('reject') });
    expect(await readFile(failed, 'utf8')).not.toContain('sekrit');

    await using fixed = await startHttpSink({ record: 'full' });
    const replay = await runCli(['replay', failed, '--to', fixed.url, '--batch-size', '1', '--no-progress']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(fixed.acceptedIds().sort()).toEqual([...REJECTED].sort());
    // Rows are replayed exactly as they were read: no digit lost.
    for (const r of fixed.requests) expect(r.body).toContain('"big":"9007199254740993"');
  });

  it('rows that fail again on replay go to a new failed file', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(20));
    const failed = `${dir.path}/f.ndjson`;
    await using picky = await startHttpSink({ rejectIds: ['3', '4'] });
    expect(
      (
        await runCli([
          'run',
          '--from',
          from,
          '--to',
          picky.url,
          '--batch-size',
          '1',
          '--failed',
          failed,
          '--no-checkpoint',
        ])
      ).code,
    ).toBe(1);
    const replay = await runCli(['replay', failed, '--to', picky.url, '--batch-size', '1']);
    expect(replay.code).toBe(1);
    const again = (await readFile(`${dir.path}/f.again.ndjson`, 'utf8')).trim().split('\n');
    expect(again.map((l) => JSON.parse(l).row.id).sort()).toEqual([3, 4]);
  });

  it('appends across runs and --max-failures stops a run the API rejects wholesale', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(5000));
    const failed = `${dir.path}/f.ndjson`;
    const ckpt = `${dir.path}/c.ckpt.json`;
    await using broken = await startHttpSink({ rejectIds: range(1, 5000), record: 'count' });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      broken.url,
      '--batch-size',
      '10',
      '--failed',
      failed,
      '--checkpoint',
      ckpt,
      '--max-failures',
      '0.5',
      '--no-progress',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/too many failures/);
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint.stoppedBy).toBe('too-many-failures');
    // Stopped soon after the 1000 rows a ratio needs, far before the 5000. Each refused batch of 10
    // is isolated down to single rows (19 requests), so that each failed row has its own answer.
    expect(checkpoint.rows.read).toBeLessThan(2500);
    expect(broken.counts.requests).toBeLessThanOrEqual(19 * (checkpoint.rows.read / 10 + 16));
    const first = (await readFile(failed, 'utf8')).trim().split('\n').length;
    expect(first).toBe(checkpoint.rows.failed);
    const resumed = await runCli([
      'run',
      '--from',
      from,
      '--to',
      broken.url,
      '--batch-size',
      '10',
      '--failed',
      failed,
      '--checkpoint',
      ckpt,
      '--max-failures',
      '100',
      '--resume',
      '--no-progress',
    ]);
    expect(resumed.code).toBe(1);
    const all = (await readFile(failed, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).row.id);
    expect(all.length).toBeGreaterThan(first);
    expect(new Set(all).size).toBe(all.length); // appended, never rewritten or duplicated
  });
});
