import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../../src/testkit/http-sink.js';
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
    expect(new Set(sink.acceptedIds())).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `L-${2 * i + 1}`).filter((id) => id !== 'L-5')));
    expect(JSON.parse(sink.requests[0]!.body)[0]).toEqual({ externalId: 'L-1', name: 'ROW 1' });
    // A batch the transform emptied entirely is acknowledged without a request.
    expect(sink.counts.requests).toBe(10);
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
    expect(JSON.parse(result.sampleBody as string)).toHaveLength(10);
  });
});
