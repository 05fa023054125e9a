import { describe, expect, it } from 'vitest';
import { NdjsonSource } from '../../src/source/ndjson.js';
import type { Batch } from '../../src/types.js';
import { tempDir } from '../helpers/tmp.js';

async function read(path: string, after?: string[]): Promise<Batch[]> {
  const out: Batch[] = [];
  const source = new NdjsonSource({ path, batchSize: 3, jobId: 'j' });
  for await (const b of source.batches({ ...(after ? { after } : {}), signal: new AbortController().signal })) out.push(b);
  return out;
}

describe('NDJSON source', () => {
  it('keeps a multi-byte character whole across a read boundary, and byte offsets exact', async () => {
    await using dir = await tempDir();
    // The first line is long enough that an é straddles the 256 KiB read boundary.
    const long = JSON.stringify({ id: 1, s: `${'a'.repeat(262_144 - 14)}é tail` });
    const lines = [long, JSON.stringify({ id: 2, s: '東京 🍰' }), JSON.stringify({ id: 3, s: 'crlf' }), JSON.stringify({ id: 4 })];
    const text = `${lines[0]}\n${lines[1]}\r\n${lines[2]}\r\n${lines[3]}`;
    const path = await dir.file('mb.ndjson', text);
    const batches = await read(path);
    expect(batches.flatMap((b) => b.rows)).toEqual(lines);
    expect(batches.at(-1)?.lastKey).toEqual([String(Buffer.byteLength(text))]);
    // Resuming after the first batch (3 rows) reads exactly the last line.
    const resumed = await read(path, [...(batches[0]?.lastKey ?? [])]);
    expect(resumed.flatMap((b) => b.rows)).toEqual([lines[3]]);
  });

  it('reports a broken line with its number', async () => {
    await using dir = await tempDir();
    const path = await dir.file('bad.ndjson', '{"id":1}\n{"id":2}\n{"id":\n');
    await expect(read(path)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('line 3') });
  });
});
