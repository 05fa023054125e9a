import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/checkpoint/checkpoint-file.js';
import { runPipeline } from '../../src/pipeline.js';
import { LazyBatch } from '../../src/source/batch.js';
import { receiptFor } from '../../src/sink/receipt.js';
import { deliverWindowed } from '../../src/sink/window.js';
import type { Batch, FailedRow, Sink, Source } from '../../src/types.js';

const bad = (id: number): FailedRow => ({ row: `{"id":${id}}`, status: null, error: 'refused', attempts: 1 });

/** Batch i holds ids 10i+1..10i+10: 7 to send, 2 the transform refused, 1 it skipped. */
function sourceWithUnsent(batches: number): Source {
  return {
    describe: 'fake',
    estimateTotal: async () => batches * 10,
    async *batches({ signal }) {
      for (let seq = 0; seq < batches && !signal.aborted; seq++) {
        const base = seq * 10;
        const rows = Array.from({ length: 7 }, (_, i) => `{"id":${base + i + 1}}`);
        const unsent = { rejected: [bad(base + 8), bad(base + 9)], skipped: 1 };
        yield new LazyBatch(seq, 7, [String(base + 1)], [String(base + 10)], `k${seq}`, { rows }, unsent);
      }
    },
    close: async () => undefined,
  };
}

/** Answers out of order (every third batch is slow); builds receipts as every real sink does. */
const sink: Sink = {
  describe: 'fake sink',
  stats: { requests: 0, retries: 0, inFlight: 0, targets: 0 },
  deliver: (batches, opts) =>
    deliverWindowed(
      batches,
      pLimit(4),
      async (b: Batch) => {
        await sleep(b.seq % 3 === 0 ? 15 : 1);
        return receiptFor(b, { delivered: b.count, failed: [] });
      },
      opts,
    ),
  report: () => ({ verb: 'sent', via: '', lines: [], json: {} }),
  close: async () => undefined,
};

const job = { id: '0123456789abcdef', fingerprint: { source: 'fake', key: ['id'], target: 'fake', batchSize: 10 } };

describe('rows the sink never saw travel on the receipt', () => {
  it('receiptFor copies the batch’s rejected rows and skips', () => {
    const b = new LazyBatch(4, 1, ['1'], ['3'], 'k', { rows: ['{"id":1}'] }, { rejected: [bad(2)], skipped: 1 });
    expect(receiptFor(b, { delivered: 1, failed: [] })).toEqual({
      seq: 4,
      firstKey: ['1'],
      lastKey: ['3'],
      rows: 1,
      delivered: 1,
      failed: [],
      rejected: [bad(2)],
      skipped: 1,
    });
    const plain = new LazyBatch(5, 1, ['1'], ['1'], 'k', { rows: ['{"id":1}'] });
    const receipt = receiptFor(plain, { delivered: 0, failed: [bad(1)] });
    expect(receipt).toMatchObject({ rejected: [], skipped: 0, failed: [bad(1)] });
  });

  it('are counted once, written before a checkpoint counts them, with the failed file’s size alongside', async () => {
    const written: FailedRow[] = [];
    let bytes = 0;
    const failed = {
      path: 'fake.failed.ndjson',
      get bytes() {
        return bytes;
      },
      write: async (rows: readonly FailedRow[]) => {
        await sleep(2); // a slow disk: a receipt must not be counted before its rows are down
        written.push(...rows);
        bytes += rows.reduce((n, r) => n + r.row.length + 1, 0);
      },
      sync: async () => undefined,
    };
    const states: { ckpt: Checkpoint; written: number; bytes: number }[] = [];
    const checkpoint = {
      update: (s: () => Checkpoint) => void states.push({ ckpt: s(), written: written.length, bytes }),
      flush: async () => undefined,
    };
    const never = new AbortController().signal;
    const source = sourceWithUnsent(12);
    const r = await runPipeline({
      ...{ source, sink, job, signal: never, hardSignal: never },
      ...{ checkpoint: checkpoint as never, failed: failed as never },
    });
    expect(r).toMatchObject({ stoppedBy: 'completed', read: 120, delivered: 84, failed: 24, skipped: 12 });
    expect(written.map((f) => f.row).sort()).toEqual(
      Array.from({ length: 12 }, (_, s) => [bad(s * 10 + 8).row, bad(s * 10 + 9).row])
        .flat()
        .sort(),
    );
    for (const s of states) {
      expect(s.ckpt.rows.failed).toBe(s.written);
      expect(s.ckpt.failedBytes).toBe(s.bytes);
    }
    const last = states.at(-1)?.ckpt;
    expect(last).toMatchObject({ complete: true, watermark: ['120'], rows: { read: 120, failed: 24, skipped: 12 } });
  });
});
