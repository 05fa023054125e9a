import type { Batch, Receipt, Sink, SinkReport, SinkStats } from '../types.js';
import { receiptFor } from './receipt.js';

/** `--dry-run`: reads and transforms everything, sends nothing, and keeps the first body to show. */
export class DryRunSink implements Sink {
  readonly describe = 'dry run (nothing is sent)';
  readonly stats: SinkStats = { requests: 0, retries: 0, inFlight: 0, targets: 0 };
  #firstBody: string | undefined;

  constructor(private readonly batchSize: number) {}

  async *deliver(batches: AsyncIterable<Batch>, opts: { signal: AbortSignal }): AsyncIterable<Receipt> {
    for await (const b of batches) {
      if (b.count > 0) this.#firstBody ??= this.batchSize === 1 ? b.rows[0] : b.json;
      yield receiptFor(b, { delivered: b.count, failed: [] });
      if (opts.signal.aborted) return;
    }
  }

  /** The first body that would have been sent, on the summary (cut at 400 characters) and whole in the JSON. */
  report(): SinkReport {
    const body = this.#firstBody;
    if (body === undefined) return { verb: 'would be sent', via: '', lines: [], json: {} };
    const shown = `${body.slice(0, 400)}${body.length > 400 ? '…' : ''}`;
    return { verb: 'would be sent', via: '', lines: [`  first request body: ${shown}`], json: { sampleBody: body } };
  }

  async close(): Promise<void> {}
}
