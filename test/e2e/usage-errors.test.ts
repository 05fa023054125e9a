import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLine, runCli } from '../helpers/cli.js';

const TO = ['--to', 'http://127.0.0.1:9/x'];

describe('bad input: one clear line, exit 2, no stack trace, no secrets', () => {
  it.each([
    [['run', '--bogus'], /unknown option '--bogus'/],
    [['run', ...TO], /--from is required/],
    [
      ['run', '--from', 'postgres://h/db', '--table', 't', ...TO, '--concurrency', 'abc'],
      /--concurrency must be a whole number from 1 to 1024 \(got "abc"\)/,
    ],
    [['run', '--from', 'postgres://h/db', '--table', 't', '--to', 'not a url'], /--to must be an http\(s\) URL/],
    [['run', '--from', 'postgres://h/db', ...TO], /exactly one of --table and --query/],
    [['run', '--from', 'postgres://h/db', '--table', 'a..b', ...TO], /empty name part/],
    [['run', '--from', 'postgres://h/db', '--table', 't', ...TO, '--sticky', 'maybe'], /--sticky/],
    [
      ['run', '--from', 'rows.ndjson', ...TO, '--max-body-bytes', '1k'],
      /--max-body-bytes must be a whole number ≥ 16 \(got "1k"\)/,
    ],
    [['run', '--from', 'missing-file.ndjson', ...TO], /cannot read missing-file.ndjson/],
    [
      ['run', '--from', 'rows.ndjson', ...TO, '--max-line-bytes', '0'],
      /--max-line-bytes must be a whole number from 1 to/,
    ],
    [
      ['run', '--from', 'postgres://h/db', '--table', 't', ...TO, '--max-line-bytes', '100'],
      /--max-line-bytes applies to an NDJSON source only/,
    ],
    [['run', '--from', 'rows.ndjson', ...TO, '--transform-timeout', '5s'], /--transform-timeout needs --transform/],
    [
      ['run', '--from', 'rows.ndjson', ...TO, '--transform', 't.mjs', '--transform-timeout', 'soon'],
      /--transform-timeout must be a duration/,
    ],
    [['status', 'no-such.ckpt.json'], /cannot read checkpoint no-such.ckpt.json: no such file/],
    // Flags that do not apply to a mode are refused, not silently ignored.
    ...['-H=X-Team: a', '--sticky=off', '--timeout=5s', '--rate=10', '--method=PUT', '--target-header=x-backend'].map(
      (flag) => [
        ['run', '--from', 'rows.ndjson', '--queue', 'http://127.0.0.1:9/000000000000/q', ...flag.split(/=(.*)/s, 2)],
        new RegExp(
          `${flag.split('=')[0] === '-H' ? '-H/--header' : flag.split('=')[0]} applies to HTTP sends, not to --queue`,
        ),
      ],
    ),
    [['run', '--from', 'rows.ndjson', ...TO, '--key', 'id'], /--key needs a PostgreSQL source/],
  ])('%j', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code, r.stderr).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(message as RegExp);
  });

  it('an unreachable database is exit 2 and the password never shows', async () => {
    const r = await runCli([
      'run',
      '--from',
      'postgres://app:hunter2secret@127.0.0.1:1/db',
      '--table',
      't',
      ...TO,
      '-H',
      'Authorization: Bearer tok-abcdef',
    ]);
    expect(r.code).toBe(2);
    const line = expectOneLine(r.stderr);
    expect(line).toMatch(/cannot connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/db/);
    expect(r.stderr + r.stdout).not.toContain('hunter2secret');
    expect(r.stderr + r.stdout).not.toContain('tok-abcdef');
  });

  it('an API that never answers is exit 2, one line, and fails no rows', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bi-'));
    await writeFile(join(dir, 'rows.ndjson'), '{"id":1}\n{"id":2}\n');
    const failed = join(dir, 'f.ndjson');
    const r = await runCli([
      'run',
      '--from',
      join(dir, 'rows.ndjson'),
      '--to',
      'http://127.0.0.1:1/x',
      '--retries',
      '1',
      '--failed',
      failed,
      '--no-checkpoint',
      '--no-progress',
    ]);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(
      /cannot reach http:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED.*\(after 2 attempts\)/,
    );
    await expect(readFile(failed, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a corrupt checkpoint with --resume is exit 2, one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bi-'));
    const ckpt = join(dir, 'x.ckpt.json');
    await writeFile(ckpt, '{"version":1,"jobId":"abc","watermark":[');
    await writeFile(join(dir, 'rows.ndjson'), '{"id":1}\n');
    const r = await runCli(['run', '--from', join(dir, 'rows.ndjson'), ...TO, '--checkpoint', ckpt, '--resume']);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/not valid JSON/);
  });

  it('every command has --help with examples', async () => {
    for (const cmd of ['run', 'replay', 'status', 'demo', 'forward', 'queue-status']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Example/);
    }
  });
});
