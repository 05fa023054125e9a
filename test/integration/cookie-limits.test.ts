import { describe, expect, it } from 'vitest';
import { startHttpSink, type FaultContext } from '../helpers/http-sink.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** A server that refuses request headers over `limit` bytes with 431, as nginx (8 KiB) or Node (16 KiB) do. */
const headerLimit =
  (limit: number) =>
  ({ headers }: FaultContext) =>
    Buffer.byteLength(headers.cookie ?? '') > limit ? { status: 431 } : undefined;

describe('cookie jars have limits, and a 431 starts a lane afresh (issue 8, item 17)', () => {
  it('an API that sets a 9 KB cookie on every answer: the cookie is ignored and every row arrives', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(200));
    const tooBig = headerLimit(8192);
    await using api = await startHttpSink({
      fault: (req) => tooBig(req) ?? { setCookie: [`BLOB=${'x'.repeat(9000)}; Path=/`, 'SESSION=s1; Path=/'] },
    });
    const result = await importWith({ from, to: api.url, batchSize: '10', concurrency: '2' });
    expect(result.thisRun).toMatchObject({ delivered: 200, failed: 0 });
    expect(api.counts.rejected).toBe(0);
    const later = api.requests.filter((r) => r.headers.cookie !== undefined);
    expect(later.length).toBeGreaterThan(10);
    for (const r of later) expect(r.headers.cookie).toBe('SESSION=s1');
  });

  it('an API that sets 50 new cookies per answer: the header stays under 50 cookies and 8 KiB', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(300));
    await using api = await startHttpSink({
      fault: ({ n }) => ({ setCookie: Array.from({ length: 50 }, (_, i) => `r${n}_${i}=${'v'.repeat(100)}; Path=/`) }),
    });
    const result = await importWith({ from, to: api.url, batchSize: '10', concurrency: '1' });
    expect(result.thisRun).toMatchObject({ delivered: 300, failed: 0 });
    for (const r of api.requests) {
      const cookie = r.headers.cookie ?? '';
      expect(Buffer.byteLength(cookie)).toBeLessThanOrEqual(8192);
      expect(cookie === '' ? 0 : cookie.split('; ').length).toBeLessThanOrEqual(50);
    }
  });

  it("a 431 drops the lane's cookies and the retry goes through", async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(50));
    const tooBig = headerLimit(1000); // a stricter server than the jar's own caps
    await using api = await startHttpSink({
      fault: (req) =>
        tooBig(req) ??
        (req.n === 1 ? { setCookie: Array.from({ length: 20 }, (_, i) => `k${i}=${'w'.repeat(100)}`) } : undefined),
    });
    const result = await importWith({ from, to: api.url, batchSize: '10', concurrency: '1', retries: '2' });
    expect(result.thisRun).toMatchObject({ delivered: 50, failed: 0 });
    expect(api.requests.filter((r) => r.status === 431)).toHaveLength(1);
    expect(new Set(api.acceptedIds())).toEqual(new Set(range(1, 50)));
  });
});
