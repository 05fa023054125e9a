import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { StickyHttpClient, type HttpClientConfig } from '../http/sticky-client.js';
import { BulkImportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { Batch, DeliverOptions, FailedRow, Receipt, Sink, SinkStats } from '../types.js';
import { deliverWindowed } from './window.js';

export interface HttpSinkConfig extends HttpClientConfig {
  readonly concurrency: number;
  /** 1: the body is one JSON object; more: a JSON array. */
  readonly batchSize: number;
}

/** Direct mode: each batch is one request through the sticky lanes. */
export class HttpSink implements Sink {
  readonly describe: string;
  readonly client: StickyHttpClient;
  /** The in-flight limit; its `concurrency` may be changed while running. */
  readonly limit: LimitFunction;
  #inFlight = 0;
  /** Whether the API has answered anything at all (any status) in this run. */
  #answered = false;

  constructor(private readonly config: HttpSinkConfig) {
    this.describe = `${config.method} ${redactUrl(config.url)}`;
    this.client = new StickyHttpClient(config);
    this.limit = pLimit(config.concurrency);
  }

  get stats(): SinkStats {
    const { requests, retries, targets } = this.client.stats;
    return { requests, retries, inFlight: this.#inFlight, targets: targets.size };
  }

  deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt> {
    // Every request in flight listens on the abort signal; that is by design, not a leak.
    setMaxListeners(0, opts.hardSignal);
    return deliverWindowed(batches, this.limit, (b) => this.#send(b, opts.hardSignal), opts);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async #send(batch: Batch, hardSignal: AbortSignal): Promise<Receipt> {
    const { seq, firstKey, lastKey, count } = batch;
    // A batch the transform emptied still has to be acknowledged, but not sent.
    if (count === 0) return { seq, firstKey, lastKey, rows: 0, delivered: 0, failed: [] };
    const body = this.config.batchSize === 1 ? (batch.rows[0] as string) : batch.payload;
    this.#inFlight++;
    let result;
    try {
      result = await this.client.send(body, batch.idempotencyKey, hardSignal);
    } finally {
      this.#inFlight--;
    }
    if (result.status !== null) this.#answered = true;
    else if (!this.#answered) {
      // Never a single answer, even after retries: a wrong host or port, not bad rows. Failing
      // every row of the table into the failed file would help nobody at 2 a.m.
      throw new BulkImportError('TARGET_UNREACHABLE', `cannot reach ${redactUrl(this.config.url)}: ${result.error} (after ${result.attempts} attempts)`);
    }
    const failed: FailedRow[] = result.ok
      ? []
      : batch.rows.map((row) => ({ row, status: result.status, error: result.error, attempts: result.attempts }));
    return { seq, firstKey, lastKey, rows: count, delivered: result.ok ? count : 0, failed };
  }
}
