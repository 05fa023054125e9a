import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { NdjsonSource } from '../../src/source/ndjson.js';
import type { Batch } from '../../src/types.js';
import { tempDir } from '../helpers/tmp.js';

async function read(path: string, after?: string[], maxLineBytes?: number): Promise<Batch[]> {
  const out: Batch[] = [];
  const source = new NdjsonSource({ path, batchSize: 3, jobId: 'j', ...(maxLineBytes ? { maxLineBytes } : {}) });
  for await (const b of source.batches({ ...(after ? { after } : {}), signal: new AbortController().signal }))
    out.push(b);
  return out;
}

describe('NDJSON source', () => {
  it('keeps a multi-byte character whole across a read boundary, and byte offsets exact', async () => {
    await using dir = await tempDir();
    // The first line is long enough that an é straddles the 256 KiB read boundary.
    const long = JSON.stringify({ id: 1, s: `${'a'.repeat(262_144 - 14)}é tail` });
    const lines = [
      long,
      JSON.stringify({ id: 2, s: '東京 🍰' }),
      JSON.stringify({ id: 3, s: 'crlf' }),
      JSON.stringify({ id: 4 }),
    ];
    const text = `${lines[0]}\n${lines[1]}\r\n${lines[2]}\r\n${lines[3]}`;
    const path = await dir.file('mb.ndjson', text);
    const batches = await read(path);
    expect(batches.flatMap((b) => b.rows)).toEqual(lines);
    expect(batches.at(-1)?.lastKey).toEqual([String(Buffer.byteLength(text))]);
    // Resuming after the first batch (3 rows) reads exactly the last line.
    const resumed = await read(path, [...(batches[0]?.lastKey ?? [])]);
    expect(resumed.flatMap((b) => b.rows)).toEqual([lines[3]]);
  });

  it('makes a broken line a failed row of its batch, with its number, and reads on', async () => {
    await using dir = await tempDir();
    const path = await dir.file('bad.ndjson', '{"id":1}\n{"id":2}\n{"id":\n{"id":4}\n{"id":5}\n');
    const batches = await read(path);
    // The broken line counts toward the batch size: batches are cut by lines, not by good rows.
    expect(batches.map((b) => [b.count, b.rejected?.length ?? 0])).toEqual([
      [2, 1],
      [2, 0],
    ]);
    expect(batches.flatMap((b) => b.rows)).toEqual(['{"id":1}', '{"id":2}', '{"id":4}', '{"id":5}']);
    const failed = batches[0]?.rejected?.[0];
    expect(failed).toMatchObject({
      status: null,
      attempts: 0,
      error: expect.stringMatching(/^NDJSON line 3 \(at byte 18\): not valid JSON/),
    });
    // The raw text, as a JSON string: the failed file splices it in as a JSON value.
    expect(JSON.parse(failed?.row as string)).toBe('{"id":');
  });

  it('makes a line of invalid UTF-8 a failed row instead of decoding it to U+FFFD', async () => {
    await using dir = await tempDir();
    const bad = Buffer.concat([Buffer.from('{"s":"caf'), Buffer.from([0xc3]), Buffer.from('"}')]);
    const text = Buffer.concat([Buffer.from('{"s":"\uFFFD ok"}\n'), bad, Buffer.from('\n{"s":"é"}\n')]);
    const path = await dir.file('latin1.ndjson');
    await writeFile(path, text);
    const batches = await read(path);
    expect(batches.flatMap((b) => b.rows)).toEqual(['{"s":"\uFFFD ok"}', '{"s":"é"}']);
    const failed = batches.flatMap((b) => b.rejected ?? []);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toMatch(/^NDJSON line 2 \(at byte 15\): invalid UTF-8 at byte 9 of the line/);
  });

  it('reads a 50 MB line in linear time, and a line over --max-line-bytes is a failed row', async () => {
    await using dir = await tempDir();
    const big = JSON.stringify({ id: 2, s: 'x'.repeat(50 * 1024 * 1024) });
    const path = await dir.file('big.ndjson', `{"id":1}\n${big}\n{"id":3}\n`);
    const t0 = Date.now();
    const whole = await read(path, undefined, 64 * 1024 * 1024);
    // Joining per 256 KiB read took 20 s here; one join takes well under a second.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(whole.flatMap((b) => b.rows).map((r) => r.length)).toEqual([8, big.length, 8]);

    const capped = await read(path); // the default cap, 16 MiB
    expect(capped.flatMap((b) => b.rows)).toEqual(['{"id":1}', '{"id":3}']);
    const failed = capped.flatMap((b) => b.rejected ?? []);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toMatch(
      new RegExp(`^NDJSON line 2 \\(at byte 9\\): ${big.length} bytes, over --max-line-bytes 16777216`),
    );
    expect(JSON.parse(failed[0]?.row as string)).toBe(big.slice(0, 256));
    // Offsets stay exact past the skipped line.
    expect(capped.at(-1)?.lastKey).toEqual([String(9 + big.length + 1 + 9)]);
  });

  it('cuts the same batches from the same offset with failed lines, so a resumed run skips exactly what was done', async () => {
    await using dir = await tempDir();
    const lines = Array.from({ length: 20 }, (_, i) => (i % 4 === 1 ? `broken ${i}` : JSON.stringify({ id: i })));
    const path = await dir.file('mixed.ndjson', `${lines.join('\n')}\n`);
    const all = await read(path);
    const resumed = await read(path, [...(all[2]?.lastKey ?? [])]);
    const ranges = (bs: Batch[]) => bs.map((b) => [b.firstKey, b.lastKey, b.count, b.rejected?.length ?? 0]);
    expect(ranges(resumed)).toEqual(ranges(all.slice(3)));
    expect(resumed[0]?.rejected?.[0]?.error).toMatch(
      /^NDJSON line 1 counted from byte (\d+) \(at byte \1\): not valid JSON/,
    );
  });
});
