import { describe, expect, it } from 'vitest';
import { startCapacityApi } from '../helpers/capacity-api.js';
import { expectOneLine, runCli } from '../helpers/cli.js';
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

  it('is refused with --queue: one line, exit 2', async () => {
    const q = 'http://127.0.0.1:9/000000000000/q';
    const r = await runCli(['run', '--from', 'rows.ndjson', '--queue', q, '--concurrency', 'auto']);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(/--concurrency auto is for direct mode; --queue takes a number/);
  });
});
