import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

const readOrEmpty = (path: string) => readFile(path, 'utf8').catch(() => '');

describe('an API that refuses everything is an endpoint error, not a table of failed rows (issue 8, item 11)', () => {
  it('401 to every request: exit 2, one line naming the status, an empty failed file, a checkpoint to resume', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    const failed = `${dir.path}/f.ndjson`;
    const ckpt = `${dir.path}/c.ckpt.json`;
    let auth = false;
    await using api = await startHttpSink({
      record: 'ids',
      fault: ({ headers }) =>
        auth || headers.authorization === 'Bearer good' ? undefined : { status: 401, body: '{"error":"bad token"}' },
    });
    const args = [
      'run',
      '--from',
      from,
      '--to',
      api.url,
      '--batch-size',
      '10',
      '--concurrency',
      '4',
      '--failed',
      failed,
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const r = await runCli([...args, '-H', 'Authorization: Bearer expired-tok']);
    expect(r.code, r.stderr).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/answered 401.*endpoint, method or credentials are wrong/);
    expect(r.stderr).not.toContain('expired-tok');
    expect(await readOrEmpty(failed)).toBe('');
    // One answer is enough: the run does not grind through the table.
    expect(api.counts.requests).toBeLessThanOrEqual(4);
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint.rows.failed).toBe(0);

    auth = true; // the token is fixed
    const resumed = await runCli([...args, '--resume', '-H', 'Authorization: Bearer good']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(new Set(api.acceptedIds())).toEqual(new Set(range(1, 2000)));
    expect(await readOrEmpty(failed)).toBe('');
  });

  it('a token that expires mid-run stops the run there, and nothing is marked failed', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(1000));
    const failed = `${dir.path}/f.ndjson`;
    const ckpt = `${dir.path}/c.ckpt.json`;
    await using api = await startHttpSink({ record: 'ids', fault: ({ n }) => (n > 30 ? { status: 403 } : undefined) });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      api.url,
      '--batch-size',
      '10',
      '--concurrency',
      '2',
      '--failed',
      failed,
      '--checkpoint',
      ckpt,
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/answered 403/);
    expect(await readOrEmpty(failed)).toBe('');
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint.rows.failed).toBe(0);
    expect(checkpoint.rows.delivered).toBeGreaterThan(0);
    expect(checkpoint.rows.delivered).toBeLessThanOrEqual(api.acceptedIds().length);
  });
});
