import type { Batch, Receipt, Sink, SinkStats } from '../types.js';

/** `--dry-run`: reads and transforms everything, sends nothing, and keeps the first body to show. */
export class DryRunSink implements Sink {
  readonly describe = 'dry run (nothing is sent)';
  readonly stats: SinkStats = { requests: 0, retries: 0, inFlight: 0, targets: 0 };
  firstBody: string | undefined;

  constructor(private readonly batchSize: number) {}

  async *deliver(batches: AsyncIterable<Batch>, opts: { signal: AbortSignal }): AsyncIterable<Receipt> {
    for await (const b of batches) {
      if (b.count > 0) this.firstBody ??= this.batchSize === 1 ? b.rows[0] : b.json;
      yield { seq: b.seq, firstKey: b.firstKey, lastKey: b.lastKey, rows: b.count, delivered: b.count, failed: [] };
      if (opts.signal.aborted) return;
    }
  }

  async close(): Promise<void> {}
}
