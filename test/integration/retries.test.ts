import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

describe('retries', () => {
  it('retries 503s, resets and timeouts with the same Idempotency-Key until every row arrives', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(500));
    await using sink = await startHttpSink({
      fault: ({ n }) =>
        n % 7 === 1 ? { status: 503 } : n % 7 === 3 ? { reset: true } : n % 11 === 5 ? { delayMs: 1500 } : undefined,
    });
    const result = await importWith({
      from,
      to: sink.url,
      batchSize: '10',
      concurrency: '4',
      timeout: '500ms',
      retries: '10',
    });
    expect(result.thisRun).toMatchObject({ delivered: 500, failed: 0 });
    expect(result.retries).toBeGreaterThan(5);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 500)));
    // Each batch's attempts share one key; distinct batches have distinct keys.
    const keysByFirstId = new Map<string, Set<string>>();
    for (const r of sink.requests) {
      const first = r.ids[0] as string;
      keysByFirstId.set(first, (keysByFirstId.get(first) ?? new Set()).add(String(r.headers['idempotency-key'])));
    }
    expect(keysByFirstId.size).toBe(50);
    for (const keys of keysByFirstId.values()) expect(keys.size).toBe(1);
  });

  it('honours Retry-After on a 429', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(1));
    await using sink = await startHttpSink({
      fault: ({ n }) => (n === 1 ? { status: 429, retryAfter: '1' } : undefined),
    });
    const result = await importWith({ from, to: sink.url, batchSize: '1' });
    expect(result.thisRun.delivered).toBe(1);
    const [first, second] = sink.requests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    expect(second!.at - first!.at).toBeLessThan(2500);
  });

  it('treats other 4xx as permanent: no retry, the rows are failed', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(30));
    await using sink = await startHttpSink({ rejectIds: ['7', '23'] });
    const result = await importWith({ from, to: sink.url, batchSize: '1', concurrency: '3' });
    expect(result.thisRun).toMatchObject({ delivered: 28, failed: 2 });
    expect(sink.counts.requests).toBe(30);
  });

  it('gives up after --retries and reports the rows as failed', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2));
    await using sink = await startHttpSink({ fault: () => ({ status: 502 }) });
    const result = await importWith({ from, to: sink.url, batchSize: '1', retries: '2' });
    expect(result.thisRun).toMatchObject({ delivered: 0, failed: 2 });
    expect(sink.counts.requests).toBe(6);
  });

  it('--rate spaces requests out', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(20));
    await using sink = await startHttpSink();
    const t0 = Date.now();
    await importWith({ from, to: sink.url, batchSize: '1', concurrency: '8', rate: '40' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
  });
});
