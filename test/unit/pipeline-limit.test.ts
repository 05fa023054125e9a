import { describe, expect, it } from 'vitest';
import { runPipeline, type Progress } from '../../src/pipeline.js';
import { LazyBatch } from '../../src/source/batch.js';
import { receiptFor } from '../../src/sink/receipt.js';
import type { Batch, DeliverOptions, KeyTuple, Receipt, Sink, Source } from '../../src/types.js';

/**
 * --limit reaches the source one way only: through the pipeline, as `batches({ limit })`, which
 * accounts for what earlier runs read. The source's own estimate of the job is capped by it there.
 */
function source(n: number): Source & { asked: (number | undefined)[] } {
  const asked: (number | undefined)[] = [];
  return {
    describe: 'fake',
    asked,
    estimateTotal: async () => n,
    async *batches({ after, limit }: { after?: KeyTuple; limit?: number; signal: AbortSignal }) {
      asked.push(limit);
      let id = after ? Number(after[0]) + 1 : 1;
      for (let seq = 0, left = limit ?? Infinity; id <= n && left > 0; seq++) {
        const rows: string[] = [];
        for (; rows.length < 10 && id <= n && left > 0; id++, left--) rows.push(`{"id":${id}}`);
        yield new LazyBatch(seq, rows.length, [String(id - rows.length)], [String(id - 1)], `k${seq}`, { rows });
      }
    },
    close: async () => undefined,
  };
}

const sink: Sink = {
  describe: 'fake sink',
  stats: { requests: 0, retries: 0, inFlight: 0, targets: 0 },
  async *deliver(batches: AsyncIterable<Batch>, _opts: DeliverOptions): AsyncIterable<Receipt> {
    for await (const b of batches) yield receiptFor(b, { delivered: b.count, failed: [] });
  },
  report: () => ({ verb: 'sent', via: '', lines: [], json: {} }),
  close: async () => undefined,
};

const job = { id: '0123456789abcdef', fingerprint: { source: 'fake', key: ['id'], target: 'fake', batchSize: 10 } };

describe('pipeline --limit', () => {
  it('passes the limit to the source and caps the progress total with it', async () => {
    const src = source(1000);
    const seen: Progress[] = [];
    const signal = new AbortController().signal;
    const r = await runPipeline({
      source: src,
      sink,
      job,
      limit: 35,
      signal,
      hardSignal: signal,
      onProgress: (p) => void seen.push(p),
    });
    expect(src.asked).toEqual([35]);
    expect(r.thisRun.delivered).toBe(35);
    expect(r.total).toBe(35);
    expect(seen.at(-1)?.total).toBe(35);
  });
});
