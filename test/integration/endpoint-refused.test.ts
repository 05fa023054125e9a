import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

describe('statuses that say the endpoint is wrong stop the run instead of failing rows (issue 8, item 11)', () => {
  it.each([301, 302, 401, 403, 404, 405, 407])('%i to everything: the run stops, no row is failed', async (status) => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(500));
    const failed = `${dir.path}/f.ndjson`;
    await using api = await startHttpSink({ fault: () => ({ status }) });
    await expect(importWith({ from, to: api.url, batchSize: '10', concurrency: '2', failed })).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: expect.stringContaining(`answered ${status}`),
    });
    expect(await readFile(failed, 'utf8').catch(() => '')).toBe('');
    expect(api.counts.requests).toBeLessThanOrEqual(2);
  });

  it('a 413 on a single row fails that row and the run goes on', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      makeRows(20, (i) => ({ pad: 'x'.repeat(i === 5 ? 500 : 5) })),
    );
    await using api = await startHttpSink({ fault: ({ body }) => (body.length > 400 ? { status: 413 } : undefined) });
    const result = await importWith({ from, to: api.url, batchSize: '4', concurrency: '1' });
    expect(result.thisRun).toMatchObject({ delivered: 19, failed: 1 });
  });

  it('an API that refuses every row of the first batch, one by one, stops the run (exit 2) after that batch alone', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    const failed = `${dir.path}/f.ndjson`;
    await using api = await startHttpSink({ fault: () => ({ status: 400, body: '{"error":"expected an object"}' }) });
    await expect(importWith({ from, to: api.url, batchSize: '10', concurrency: '4', failed })).rejects.toMatchObject({
      code: 'TARGET_REFUSED',
      message: expect.stringContaining('refused every row of a 10-row batch'),
    });
    expect(await readFile(failed, 'utf8').catch(() => '')).toBe('');
    // At most the batches in flight were isolated (19 requests each), not the table.
    expect(api.counts.requests).toBeLessThanOrEqual(4 * 19);
  });

  it('with --max-failures the user decides: refused rows are failed and counted, and the limit stops the run', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2000));
    const failed = `${dir.path}/f.ndjson`;
    await using api = await startHttpSink({ fault: () => ({ status: 400 }) });
    const result = await importWith({
      from,
      to: api.url,
      batchSize: '10',
      concurrency: '1',
      failed,
      maxFailures: '25',
    });
    expect(result.stoppedBy).toBe('too-many-failures');
    expect(result.thisRun.delivered).toBe(0);
    expect(result.thisRun.failed).toBeGreaterThan(25);
  });
});
