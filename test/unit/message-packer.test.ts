import { LazyBatch } from '../../src/source/batch.js';
import { describe, expect, test } from 'vitest';
import { attributesBytes, parseEnvelope } from '../../src/queue/envelope.js';
import { cutRows } from '../../src/queue/cut-rows.js';
import { MessagePacker, messageOf, rowsOf, SQS_MAX_BYTES, type PackedMessage } from '../../src/queue/message-packer.js';
import type { Batch } from '../../src/types.js';
import { makeBatches, makeRow } from '../helpers/queue-fixtures.js';

async function pack(
  batches: AsyncIterable<Batch>,
  limits: { messageBytes: number; rowsPerMessage?: number; apiBatch?: number },
) {
  const packer = new MessagePacker({ job: 'j', ...limits });
  const out: PackedMessage[] = [];
  for await (const b of batches) out.push(...packer.add(b).sealed);
  const last = packer.flush();
  if (last) out.push(last);
  return out;
}

const ids = (m: PackedMessage) =>
  parseEnvelope(m.body).ok ? (JSON.parse(m.body) as { rows: { id: number }[] }).rows.map((r) => r.id) : [];

describe('MessagePacker', () => {
  test('fills messages up to the byte limit across batch boundaries, in key order', async () => {
    const messages = await pack(makeBatches(1000, 7), { messageBytes: 8192 });
    expect(messages.flatMap(ids)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (const m of messages) {
      expect(m.bytes).toBe(Buffer.byteLength(m.body) + attributesBytes(m.meta));
      expect(m.bytes).toBeLessThanOrEqual(8192);
    }
    expect(messages.slice(0, -1).every((m) => m.bytes > 8192 - 310)).toBe(true);
    expect(messages[0]?.meta.firstKey).toEqual(['1']);
    expect(messages.at(-1)?.meta.lastKey).toEqual(['1000']);
  });

  test('--rows-per-message caps rows', async () => {
    const messages = await pack(makeBatches(95, 10), { messageBytes: 65_536, rowsPerMessage: 20 });
    expect(messages.map((m) => m.meta.rows)).toEqual([20, 20, 20, 20, 15]);
  });

  test('segments say which rows of which batch each message holds', async () => {
    const messages = await pack(makeBatches(30, 10, 300), { messageBytes: 4000 });
    const covered = messages.flatMap((m) => m.segments.flatMap((s) => s.batch.rows.slice(s.start, s.end)));
    expect(covered.map((r) => (JSON.parse(r) as { id: number }).id)).toEqual(
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });

  test('a row larger than the target goes alone; one larger than SQS allows is reported', async () => {
    async function* batches(): AsyncGenerator<Batch> {
      const rows = [makeRow(1, 100), makeRow(2, 5000), makeRow(3, SQS_MAX_BYTES + 10), makeRow(4, 100)];
      yield new LazyBatch(0, 4, ['1'], ['4'], 'k', { rows });
    }
    const packer = new MessagePacker({ job: 'j', messageBytes: 2048 });
    let oversize: number[] = [];
    const out: PackedMessage[] = [];
    for await (const b of batches()) {
      const r = packer.add(b);
      out.push(...r.sealed);
      oversize = r.oversize.map((o) => o.index);
    }
    out.push(packer.flush() as PackedMessage);
    expect(out.map(ids)).toEqual([[1], [2], [4]]);
    expect(oversize).toEqual([2]);
  });

  test('messageOf rebuilds a message from some of its rows, every row once', async () => {
    const [m] = await pack(makeBatches(9, 9), { messageBytes: 65_536 });
    const rows = rowsOf(m as PackedMessage);
    expect([messageOf('j', rows.slice(0, 5)), messageOf('j', rows.slice(5))].map(ids)).toEqual([
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9],
    ]);
    expect(messageOf('j', rows).body).toBe(m?.body);
  });

  // Issue 8 item 21: message 1 said 1–500 but held 1–412.
  test.each([
    ['batches cut across messages', 500, 8192, undefined],
    ['whole batches per message', 20, 65_536, 40],
    ['small batches packed together', 7, 4096, undefined],
  ])(
    'firstKey / lastKey are the keys of the first and last row, or absent (%s)',
    async (_, batchSize, messageBytes, rowsPerMessage) => {
      const messages = await pack(makeBatches(1000, batchSize), {
        messageBytes,
        ...(rowsPerMessage ? { rowsPerMessage } : {}),
      });
      expect(messages.length).toBeGreaterThan(2);
      for (const m of messages) {
        const rows = ids(m);
        const [first, last] = [rows[0] as number, rows.at(-1) as number];
        // Batches of makeBatches start at 1, 1 + batchSize, …: only there is a row's key known.
        const opensBatch = (first - 1) % batchSize === 0;
        const closesBatch = last % batchSize === 0 || last === 1000;
        expect(m.meta.firstKey).toEqual(opensBatch ? [String(first)] : undefined);
        expect(m.meta.lastKey).toEqual(closesBatch ? [String(last)] : undefined);
        expect(Number(m.meta.range[0][0])).toBeLessThanOrEqual(first);
        expect(Number(m.meta.range[1][0])).toBeGreaterThanOrEqual(last);
        expect(m.bytes).toBe(Buffer.byteLength(m.body) + attributesBytes(m.meta));
        expect(m.bytes).toBeLessThanOrEqual(messageBytes);
      }
      if (rowsPerMessage) expect(messages.every((m) => m.meta.firstKey && m.meta.lastKey)).toBe(true);
    },
  );
});

describe('cutRows', () => {
  const text = ['{"a":"x,y}"}', '{"b":[1,{"c":2}]}', '{"d":"Zürich ✓"}', '[3]'].join(',');
  const bytes = Buffer.from(`[${text}]`);
  const cut = (maxBytes: number, maxRows: number) => cutRows(bytes, 1, bytes.length - 1, maxBytes, maxRows);

  test('cuts only between rows, never inside strings or nesting', () => {
    expect(cut(1000, 1)).toEqual({ bytes: 12, rows: 1 });
    expect(cut(1000, 2)).toEqual({ bytes: 30, rows: 2 });
    expect(cut(1000, 10)).toEqual({ bytes: Buffer.byteLength(text), rows: 4 });
  });

  test('counts UTF-8 bytes, not characters', () => {
    const third = text.indexOf(',[3]');
    expect(Buffer.byteLength(text.slice(0, third))).toBeGreaterThan(third);
    expect(cut(third, 10)).toMatchObject({ rows: 2 }); // the third row fits by characters, not by bytes
    expect(cut(Buffer.byteLength(text.slice(0, third)), 10)).toMatchObject({ rows: 3 });
    expect(cut(11, 10)).toBeUndefined();
  });

  test('a multi-byte batch is packed within the byte limit', async () => {
    async function* batches(): AsyncGenerator<Batch> {
      const rows = Array.from({ length: 200 }, (_, i) => `{"id":${i + 1},"city":"${'Gdańsk–Kraków ✓'.repeat(8)}"}`);
      yield new LazyBatch(0, rows.length, ['1'], ['200'], 'k', { rows });
    }
    const messages = await pack(batches(), { messageBytes: 4096 });
    expect(messages.flatMap(ids)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const m of messages) expect(Buffer.byteLength(m.body) + attributesBytes(m.meta)).toBeLessThanOrEqual(4096);
  });

  // The bench's case: five 100-row batches of ~520-byte rows are 4.003 × 64 KiB, so no count of
  // whole batches fills a call without wasting ~1.5 % of its bill.
  test.each([
    [520, 100],
    [150, 100],
    [300, 150],
    [1000, 10],
  ])(
    'rows of %i bytes, --batch-size %i: whole API batches, and calls billed within 1 % of their payload',
    async (rowBytes, apiBatch) => {
      const rows = 40_000;
      const messages = await pack(makeBatches(rows, apiBatch, rowBytes), { messageBytes: 65_536, apiBatch });
      expect(messages.flatMap(ids)).toEqual(Array.from({ length: rows }, (_, i) => i + 1));
      const calls = Array.from({ length: Math.ceil(messages.length / 10) }, (_, c) =>
        messages.slice(c * 10, c * 10 + 10),
      );
      // Only a call's last message (and the run's last) may end inside an API batch.
      messages.forEach((m, i) => {
        if (m.meta.rows % apiBatch !== 0) expect(i % 10 === 9 || i === messages.length - 1).toBe(true);
        expect(m.bytes).toBeLessThanOrEqual(65_536);
      });
      const payload = calls.map((c) => c.reduce((n, m) => n + m.bytes, 0));
      const billed = payload.reduce((n, b) => n + Math.ceil(b / 65_536), 0);
      const floor = payload.reduce((n, b) => n + b, 0) / 65_536;
      expect(billed / floor).toBeLessThanOrEqual(1.01);
    },
  );
});
