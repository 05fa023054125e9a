import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/checkpoint/checkpoint-file.js';
import { runPipeline } from '../../src/pipeline.js';
import { LazyBatch } from '../../src/source/batch.js';
import { receiptFor } from '../../src/sink/receipt.js';
import { deliverWindowed } from '../../src/sink/window.js';
import type { Batch, DeliverOptions, KeyTuple, Receipt, Sink, Source } from '../../src/types.js';

/** Batches of `size` rows over ids 1..n, cut from the watermark as a real source cuts them. */
function fakeSource(n: number, size: number): Source & { pulled: () => number } {
  let pulled = 0;
  return {
    describe: 'fake',
    estimateTotal: async () => n,
    pulled: () => pulled,
    async *batches({ after, limit, signal }: { after?: KeyTuple; limit?: number; signal: AbortSignal }) {
      let id = after ? Number(after[0]) + 1 : 1;
      let left = limit ?? Infinity;
      for (let seq = 0; id <= n && left > 0 && !signal.aborted; seq++) {
        const rows: string[] = [];
        for (; rows.length < size && id <= n && left > 0; id++, left--) rows.push(`{"id":${id}}`);
        const first = [String(JSON.parse(rows[0] as string).id)];
        const last = [String(id - 1)];
        pulled++;
        yield new LazyBatch(seq, rows.length, first, last, `k${first}-${last}`, { rows });
      }
    },
    close: async () => undefined,
  };
}

/** A sink that takes `delay(batch)` ms per batch, `concurrency` at a time, and records the ids it got. */
function fakeSink(
  concurrency: number,
  delay: (b: Batch) => number,
): Sink & { ids: number[]; inFlight: () => number; inFlightMax: () => number } {
  const ids: number[] = [];
  let inFlight = 0;
  let max = 0;
  return {
    describe: 'fake sink',
    stats: { requests: 0, retries: 0, inFlight: 0, targets: 0 },
    ids,
    inFlight: () => inFlight,
    inFlightMax: () => max,
    deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt> {
      return deliverWindowed(
        batches,
        pLimit(concurrency),
        async (b) => {
          max = Math.max(max, ++inFlight);
          await sleep(delay(b));
          inFlight--;
          for (const r of b.rows) ids.push(JSON.parse(r).id);
          return receiptFor(b, { delivered: b.count, failed: [] });
        },
        opts,
      );
    },
    report: () => ({ verb: 'sent', via: '', lines: [], json: {} }),
    close: async () => undefined,
  };
}

const job = { id: '0123456789abcdef', fingerprint: { source: 'fake', key: ['id'], target: 'fake', batchSize: 10 } };
const signals = () => ({ signal: new AbortController().signal, hardSignal: new AbortController().signal });

describe('pipeline', () => {
  it('a slow sink holds the source back: never more than one batch read beyond what is in flight or done', async () => {
    const source = fakeSource(500, 10);
    let worst = 0;
    const sink = fakeSink(4, () => {
      // Called as a batch starts (it is counted in flight): batches read but neither done nor started.
      worst = Math.max(worst, source.pulled() - (sink.ids.length / 10 + sink.inFlight()));
      return 3;
    });
    const r = await runPipeline({ source, sink, job, ...signals() });
    expect(r.stoppedBy).toBe('completed');
    expect(new Set(sink.ids).size).toBe(500);
    expect(sink.inFlightMax()).toBe(4);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('batches acknowledged above the watermark are recorded, skipped by a resume, and counted once', async () => {
    // Batch 2 (ids 21–30) is slow; the others finish meanwhile. The state a kill -9 would leave is
    // the checkpoint as it stood at that instant: batch 2 and the ones in flight are not in it.
    const source = fakeSource(200, 10);
    const sink = fakeSink(4, (b) => (b.seq === 2 ? 200 : 2));
    let latest: (() => Checkpoint) | undefined;
    const checkpoint = {
      update: (s: () => Checkpoint) => {
        latest = s;
      },
      flush: async () => undefined,
    };
    let atKill: Checkpoint | undefined;
    let sentAtKill = 0;
    setTimeout(() => {
      atKill = latest?.();
      sentAtKill = sink.ids.length;
    }, 60);
    await runPipeline({ source, sink, job, checkpoint: checkpoint as never, maxAhead: 3, ...signals() });
    const ckpt = atKill as Checkpoint;
    expect(ckpt.watermark).toEqual(['20']);
    // At most maxAhead acknowledged when the gate closed, plus what was in flight then.
    const ahead = ckpt.ahead ?? [];
    expect(ahead.length).toBeGreaterThanOrEqual(3);
    expect(ahead.length).toBeLessThanOrEqual(3 + 3);
    expect(ckpt.rows.read).toBe(20 + 10 * ahead.length);
    const resumedSink = fakeSink(4, () => 1);
    const resumed = await runPipeline({
      source: fakeSource(200, 10),
      sink: resumedSink,
      job,
      resume: ckpt,
      ...signals(),
    });
    expect(resumed.stoppedBy).toBe('completed');
    const all = [...sink.ids.slice(0, sentAtKill), ...resumedSink.ids];
    expect(new Set(all).size).toBe(200);
    // Re-sent: only what was in flight at the kill (at most 4 batches of 10), never the batches ahead.
    expect(all.length - 200).toBeLessThanOrEqual(40);
    const inAhead = (id: number) => ahead.some((b) => id >= Number(b.firstKey[0]) && id <= Number(b.lastKey[0]));
    expect(resumedSink.ids.filter(inAhead)).toEqual([]);
    expect({ read: resumed.read, delivered: resumed.delivered }).toEqual({ read: 200, delivered: 200 });
  });

  it('maxAhead bounds how far the window runs past a stalled batch', async () => {
    const source = fakeSource(400, 10);
    let maxWaiting = 0;
    let acked = 0;
    const sink = fakeSink(8, (b) => {
      if (b.seq !== 0 && acked === 0) maxWaiting = Math.max(maxWaiting, b.seq);
      return b.seq === 0 ? 100 : 1;
    });
    const inner = sink.deliver.bind(sink);
    sink.deliver = async function* (batches, opts) {
      for await (const r of inner(batches, opts)) {
        if (r.seq === 0) acked = 1;
        yield r;
      }
    };
    await runPipeline({ source, sink, job, maxAhead: 5, ...signals() });
    // While batch 0 is out, no batch beyond 5 acknowledged + 7 others in flight starts.
    expect(maxWaiting).toBeLessThanOrEqual(5 + 7);
    expect(maxWaiting).toBeGreaterThanOrEqual(5);
    expect(new Set(sink.ids).size).toBe(400);
  });
});
