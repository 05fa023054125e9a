import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

async function failedLines(path: string): Promise<{ row: { id: number }; status: number | null; error: string }[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim() === ''
    ? []
    : text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
}

describe('a refused batch is halved until each refused row stands alone (issue 8, item 11)', () => {
  it('one bad row in a 100-row batch: exactly that row is failed with its 422, the other 99 arrive', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(300));
    const failed = `${dir.path}/failed.ndjson`;
    const bad = new Set(['42', '250', '251']);
    await using sink = await startHttpSink({
      fault: ({ ids }) => {
        const hit = ids.filter((id) => bad.has(id));
        return hit.length > 0
          ? { status: 422, body: JSON.stringify({ error: `invalid rows ${hit.join(',')}` }) }
          : undefined;
      },
    });
    const result = await importWith({ from, to: sink.url, batchSize: '100', concurrency: '3', failed });
    expect(result.thisRun).toMatchObject({ delivered: 297, failed: 3 });
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 300).filter((id) => !bad.has(id))));
    expect(sink.acceptedIds()).toHaveLength(297); // nothing twice
    const lines = await failedLines(failed);
    expect(lines.map((l) => String(l.row.id)).sort()).toEqual([...bad].sort());
    for (const l of lines) expect(l).toMatchObject({ status: 422, error: `{"error":"invalid rows ${l.row.id}"}` });
    // A piece of one row is still a JSON array, as the endpoint takes at --batch-size > 1.
    const single = sink.requests.filter((r) => r.ids.length === 1);
    expect(single.length).toBeGreaterThan(0);
    for (const r of single) expect(r.body.startsWith('[')).toBe(true);
    // The extra requests are counted: 3 batches + 2·7 halvings for the batch with one bad row, fewer than 2 per row.
    expect(result.requests).toBe(sink.counts.requests);
    expect(result.requests).toBeGreaterThan(3);
    expect(result.requests).toBeLessThan(3 + 3 * 2 * 7);
  });

  it('names the pieces after the batch: the same rows get the same idempotency key every time', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(40));
    // The job (and so each batch's key) is derived from the source and the target: one sink for both runs.
    await using sink = await startHttpSink({ fault: ({ ids }) => (ids.includes('13') ? { status: 400 } : undefined) });
    const keysOf = async () => {
      sink.clear();
      await importWith({ from, to: sink.url, batchSize: '20', concurrency: '1' });
      return sink.requests.map((r) => `${r.ids.join(',')} ${String(r.headers['idempotency-key'])}`);
    };
    const a = await keysOf();
    expect(a).toEqual(await keysOf());
    const whole = a.find((l) => l.startsWith('1,2,3'))?.split(' ')[1] as string;
    const pieces = a.filter((l) => l.split(' ')[1] !== whole && l.split(' ')[1]?.startsWith(`${whole}.`));
    expect(pieces.map((l) => l.split(' ')[1]?.slice(whole.length))).toEqual([
      '.0',
      '.1',
      '.10',
      '.100',
      '.1000',
      '.1001',
      '.101',
      '.11',
    ]);
  });

  it('a 413 always splits, down to what the API takes', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(200));
    const limit = 1200; // about 30 rows of ~35 bytes
    await using sink = await startHttpSink({
      fault: ({ body }) => (Buffer.byteLength(body) > limit ? { status: 413 } : undefined),
    });
    const result = await importWith({ from, to: sink.url, batchSize: '100', concurrency: '2' });
    expect(result.thisRun).toMatchObject({ delivered: 200, failed: 0 });
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 200)));
    expect(sink.acceptedIds()).toHaveLength(200);
  });

  it('--max-body-bytes cuts batches before sending; a single row over it is a failed row', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      makeRows(100, (i) => ({ pad: 'x'.repeat(i === 77 ? 2000 : 20) })),
    );
    const failed = `${dir.path}/failed.ndjson`;
    await using sink = await startHttpSink();
    const result = await importWith({
      from,
      to: sink.url,
      batchSize: '50',
      concurrency: '2',
      maxBodyBytes: '1000',
      failed,
    });
    expect(result.thisRun).toMatchObject({ delivered: 99, failed: 1 });
    for (const r of sink.requests) expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(1000);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, 100).filter((id) => id !== '77')));
    const lines = await failedLines(failed);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      row: { id: 77 },
      status: null,
      error: expect.stringMatching(/^row is 20\d\d bytes, over --max-body-bytes 1000$/),
    });
    // Nothing is sent that the limit would refuse: every request made it.
    expect(sink.counts.rejected).toBe(0);
    expect(result.requests).toBe(sink.counts.requests);
  });

  it('a 5xx after the retries fails its batch without halving it', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(20));
    await using sink = await startHttpSink({ fault: ({ ids }) => (ids.includes('5') ? { status: 503 } : undefined) });
    const result = await importWith({ from, to: sink.url, batchSize: '10', concurrency: '1', retries: '1' });
    expect(result.thisRun).toMatchObject({ delivered: 10, failed: 10 });
    expect(sink.counts.requests).toBe(3);
  });
});
