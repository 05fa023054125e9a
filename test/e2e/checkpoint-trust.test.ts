import { readdir, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { makeRows } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** A checkpoint as JSON, to damage by hand. */
type Ckpt = Record<string, unknown> & { job: Record<string, unknown>; rows: Record<string, unknown> };

/** A checkpoint is trusted only when its whole shape is right; a run never loses the record of a stop. */
describe('checkpoints a run can trust', () => {
  async function finishedJob() {
    const dir = await tempDir();
    const rows = await dir.file('rows.ndjson', makeRows(50));
    const ckpt = `${dir.path}/job.ckpt.json`;
    const sink = await startHttpSink({ record: 'ids' });
    const args = ['run', '--from', rows, '--to', sink.url, '--batch-size', '10', '--checkpoint', ckpt, '--no-progress'];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    const good = JSON.parse(await readFile(ckpt, 'utf8'));
    return {
      dir,
      ckpt,
      sink,
      args,
      good,
      [Symbol.asyncDispose]: async () => {
        await sink.close();
        await dir[Symbol.asyncDispose]();
      },
    };
  }

  it.each([
    ['an empty watermark', (c: Ckpt) => ({ ...c, watermark: [] }), /"watermark" has 0 values for a key of 1 column/],
    ['a watermark longer than the key', (c: Ckpt) => ({ ...c, watermark: ['10', '20'] }), /"watermark" has 2 values/],
    [
      'a negative byte offset',
      (c: Ckpt) => ({ ...c, watermark: ['-5'] }),
      /"watermark" must be a whole number ≥ 0 \(got "-5"\)/,
    ],
    ['no job.key', (c: Ckpt) => ({ ...c, job: { ...c.job, key: undefined } }), /"job.key" must be a non-empty list/],
    [
      'counts that do not add up',
      (c: Ckpt) => ({ ...c, rows: { ...c.rows, read: 7 } }),
      /delivered \+ failed \+ skipped differs from read/,
    ],
    [
      'a malformed ahead entry',
      (c: Ckpt) => ({ ...c, ahead: [{ firstKey: ['x'], lastKey: ['20'], rows: 1 }] }),
      /"ahead\[0\]" key must be a whole number/,
    ],
  ])('%s: --resume is exit 2 with one line saying what is wrong, and sends nothing', async (_what, damage, message) => {
    await using job = await finishedJob();
    await writeFile(job.ckpt, JSON.stringify(damage({ ...job.good, complete: false })));
    const before = job.sink.counts.requests;
    const r = await runCli([...job.args, '--resume']);
    expect(r.code, r.stderr).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(message);
    expect(r.stderr).not.toMatch(/resume with --resume/);
    expect(job.sink.counts.requests).toBe(before);
  });

  it('a truncated checkpoint is not overwritten by a run without --resume (it may be all that says where a job stopped)', async () => {
    await using job = await finishedJob();
    const text = JSON.stringify({ ...job.good, complete: false });
    await writeFile(job.ckpt, text.slice(0, text.length / 2));
    const r = await runCli(job.args);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/is damaged: not valid JSON.*--restart/);
    expect(await readFile(job.ckpt, 'utf8')).toBe(text.slice(0, text.length / 2));
    const restarted = await runCli([...job.args, '--restart']);
    expect(restarted.code, restarted.stderr).toBe(0);
  });

  it('temp files left by a kill during a checkpoint write are removed by the next run; a live writer’s are kept', async () => {
    await using job = await finishedJob();
    const dead = `${job.dir.path}/.job.ckpt.json.999999999.3.tmp`;
    const live = `${job.dir.path}/.job.ckpt.json.${process.pid}.1.tmp`;
    await writeFile(dead, '{"torn');
    await writeFile(live, '{"in progress');
    const r = await runCli([...job.args, '--restart']);
    expect(r.code, r.stderr).toBe(0);
    const left = await readdir(job.dir.path);
    expect(left).not.toContain('.job.ckpt.json.999999999.3.tmp');
    expect(left).toContain(`.job.ckpt.json.${process.pid}.1.tmp`);
    expect(left.filter((n) => n.endsWith('.tmp'))).toHaveLength(1);
  });

  it.each(['--failed', '--checkpoint', '--summary-json'])(
    "%s '' (an unset variable) is refused before anything is sent",
    async (flag) => {
      await using dir = await tempDir();
      const rows = await dir.file('rows.ndjson', makeRows(5));
      await using sink = await startHttpSink({ record: 'ids' });
      const r = await runCli(['run', '--from', rows, '--to', sink.url, flag, '', '--no-progress'], { cwd: dir.path });
      expect(r.code).toBe(2);
      expect(expectOneLine(r.stderr)).toMatch(new RegExp(`${flag} needs a file path`));
      expect(sink.counts.requests).toBe(0);
    },
  );
});
