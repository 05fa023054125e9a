import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

describe('--transform', () => {
  it('maps rows, skips on null, and turns a throw into a failed row without stopping', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(40));
    const transform = await dir.file(
      'to-payload.mjs',
      `export default async (row) => {
        if (row.id === 5) throw new Error('no fives');
        if (row.id % 2 === 0) return null;
        return { externalId: 'L-' + row.id, name: row.title.toUpperCase() };
      };`,
    );
    await using sink = await startHttpSink({ idField: 'externalId' });
    const result = await importWith({ from, to: sink.url, batchSize: '4', transform });
    expect(result.thisRun).toEqual({ read: 40, delivered: 19, failed: 1, skipped: 20 });
    expect(new Set(sink.acceptedIds())).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => `L-${2 * i + 1}`).filter((id) => id !== 'L-5')),
    );
    expect(JSON.parse(sink.requests[0]!.body)[0]).toEqual({ externalId: 'L-1', name: 'ROW 1' });
    // A batch the transform emptied entirely is acknowledged without a request.
    expect(sink.counts.requests).toBe(10);
  });

  it('a result that is not JSON fails its row as read, never as "row": undefined', async () => {
    await using dir = await tempDir();
    const from = await dir.file(
      'rows.ndjson',
      makeRows(6, (i) => ({ n: i * 1.5 })),
    );
    const transform = await dir.file(
      'odd.mjs',
      `export default (row) => {
        if (row.id === 1) return () => 1;
        if (row.id === 2) return Symbol('s');
        if (row.id === 3) return { toJSON: () => undefined };
        if (row.id === 4) return { big: 10n };
        return row;
      };`,
    );
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const result = await importWith({ from, to: sink.url, batchSize: '2', transform, failed });
    expect(result.thisRun).toMatchObject({ read: 6, delivered: 2, failed: 4 });
    expect(sink.acceptedIds()).toEqual(['5', '6']);
    const lines = (await readFile(failed, 'utf8')).trim().split('\n');
    for (const l of lines) expect(l).not.toMatch(/"row":undefined/);
    const parsed = lines.map((l) => JSON.parse(l) as { row: unknown; error: string });
    expect(parsed.map((l) => l.row)).toEqual([1, 2, 3, 4].map((id) => ({ id, n: id * 1.5 })));
    expect(parsed.map((l) => l.error)).toEqual([
      'transform: returned function, which is not JSON',
      'transform: returned symbol, which is not JSON',
      'transform: returned object, which is not JSON',
      expect.stringMatching(/^transform: .*BigInt/),
    ]);
  });

  it('a row whose transform never answers fails after --transform-timeout; the others arrive', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(10));
    const transform = await dir.file(
      'stuck.mjs',
      'export default (row) => (row.id === 4 ? new Promise(() => {}) : row);',
    );
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const t0 = Date.now();
    const result = await importWith({
      from,
      to: sink.url,
      batchSize: '3',
      transform,
      transformTimeout: '300ms',
      failed,
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(result.thisRun).toMatchObject({ read: 10, delivered: 9, failed: 1 });
    expect(sink.acceptedIds().sort()).toEqual(['1', '10', '2', '3', '5', '6', '7', '8', '9']);
    const [line] = (await readFile(failed, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { row: { id: number }; error: string });
    expect(line).toMatchObject({ row: { id: 4 }, error: 'transform: no answer after 300 ms (--transform-timeout)' });
  });

  it('a module without a default function is a usage error', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(1));
    const transform = await dir.file('bad.mjs', 'export const x = 1;');
    await using sink = await startHttpSink();
    await expect(importWith({ from, to: sink.url, transform })).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('--dry-run', () => {
  it('reads everything and sends nothing, keeping the first body to show', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(25));
    await using sink = await startHttpSink();
    const result = await importWith({ from, to: sink.url, batchSize: '10', dryRun: true });
    expect(result.thisRun.read).toBe(25);
    expect(result.dryRun).toBe(true);
    expect(sink.counts.requests).toBe(0);
    expect(JSON.parse(result.sink.json.sampleBody as string)).toHaveLength(10);
    expect(result.sink.lines).toEqual([expect.stringMatching(/^ {2}first request body: \[\{/)]);
  });
});
