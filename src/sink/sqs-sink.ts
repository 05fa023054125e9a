import { setMaxListeners } from 'node:events';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RetryPolicy } from '../http/retry-policy.js';
import { packCalls, ReceiptTracker, type Call } from '../queue/call-packer.js';
import { MessagePacker, SQS_MAX_BYTES } from '../queue/message-packer.js';
import { newCounters, sendMessages, type EnqueueCounters } from '../queue/send-batch.js';
import { createSqsClient, sqsFailure, type SqsConnection } from '../queue/sqs-client.js';
import { IN_FLIGHT_BYTES, type QueueConfig } from '../config/queue-config.js';
import { formatQueueSummary } from '../queue/pricing.js';
import type { Batch, DeliverOptions, Receipt, Sink, SinkReport, SinkStats } from '../types.js';
import { deliverWindowed, type WindowLimit } from './window.js';

export interface SqsSinkConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  /** The job id, written into every envelope. */
  readonly job: string;
  readonly messageBytes: number;
  readonly rowsPerMessage?: number;
  /** SendMessageBatch calls in flight. */
  readonly concurrency: number;
  /**
   * Payload bytes in flight: no further call starts while the calls out hold this many. Each call
   * in flight keeps its rows (the source batches, the messages, the request body) alive, so this,
   * not the call count, is what bounds memory; a call always starts when none is out.
   */
  readonly inFlightBytes?: number;
  /** Rows per API request (--batch-size): messages hold whole multiples of it (see MessagePacker). */
  readonly apiBatch?: number;
  readonly retry: RetryPolicy;
}

/**
 * Queue mode: rows become SQS messages. A batch is acknowledged (its receipt yielded, so the
 * checkpoint can move past it) once SQS has accepted every message holding its rows. The unit of
 * concurrency is a SendMessageBatch call of up to 10 messages, which may carry rows of several
 * batches; `limit` bounds calls in flight and source batches are pulled only to fill the next call.
 */
export class SqsSink implements Sink {
  readonly describe: string;
  readonly limit: WindowLimit;
  readonly counters: EnqueueCounters = newCounters();
  /** Rows SQS accepted, over the receipts yielded: the queue line's price per million rows. */
  #rowsEnqueued = 0;
  #bytesInFlight = 0;

  readonly #sqs: SQSClient;

  /** The sink of `run --queue`: --concurrency is SendMessageBatch calls in flight. */
  static forRun(q: QueueConfig, job: string, concurrency: number, apiBatch: number): SqsSink {
    return new SqsSink({
      queueUrl: q.queueUrl,
      connection: q.connection,
      job,
      messageBytes: q.messageBytes,
      ...(q.rowsPerMessage !== undefined ? { rowsPerMessage: q.rowsPerMessage } : {}),
      concurrency,
      inFlightBytes: q.inFlightBytes,
      apiBatch,
      retry: q.retry,
    });
  }

  constructor(private readonly config: SqsSinkConfig) {
    this.describe = `SQS ${config.queueUrl}`;
    this.limit = { concurrency: config.concurrency };
    this.#sqs = createSqsClient(config.connection, { maxAttempts: 1 });
  }

  get stats(): SinkStats {
    const c = this.counters;
    return { requests: c.calls, retries: c.retries, inFlight: c.inFlight, targets: 0 };
  }

  deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt> {
    setMaxListeners(0, opts.hardSignal);
    return this.#deliver(batches, opts);
  }

  async close(): Promise<void> {
    this.#sqs.destroy();
  }

  async *#deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt> {
    const messageBytes = Math.min(this.config.messageBytes, await this.#queueMessageLimit(opts.hardSignal));
    const packer = new MessagePacker({
      job: this.config.job,
      messageBytes,
      ...(this.config.rowsPerMessage ? { rowsPerMessage: this.config.rowsPerMessage } : {}),
      ...(this.config.apiBatch ? { apiBatch: this.config.apiBatch } : {}),
    });
    const tracker = new ReceiptTracker();
    // The soft stop is handled by packCalls (it sends what it packed, then ends); the window
    // itself only stops pulling on a hard stop.
    const calls = packCalls(batches, packer, tracker, opts.signal);
    const work = (call: Call) => this.#send(call, tracker, opts.hardSignal);
    const gate = opts.mayPull;
    const budget = this.config.inFlightBytes ?? IN_FLIGHT_BYTES;
    const window = {
      signal: opts.hardSignal,
      hardSignal: opts.hardSignal,
      mayPull: () => this.#bytesInFlight < budget && (gate?.() ?? true),
    };
    for await (const _ of deliverWindowed(calls, this.limit, work, window)) {
      yield* this.#counted(tracker.drain());
    }
    yield* this.#counted(tracker.drain());
  }

  #counted(receipts: Receipt[]): Receipt[] {
    for (const r of receipts) this.#rowsEnqueued += r.delivered;
    return receipts;
  }

  /** The queue line (messages, billed requests, price per million rows); nothing if nothing was sent. */
  report(): SinkReport {
    const c = this.counters;
    const lines = c.calls > 0 ? [formatQueueSummary(c, this.#rowsEnqueued)] : [];
    const queue = { messages: c.messages, calls: c.calls, billedRequests: c.billed };
    return { verb: 'enqueued', via: '', lines, json: { queue } };
  }

  async #send(call: Call, tracker: ReceiptTracker, hardSignal: AbortSignal): Promise<void> {
    if (call.messages.length === 0) return;
    const { queueUrl, retry } = this.config;
    this.counters.inFlight++;
    this.#bytesInFlight += call.bytes;
    try {
      const outcome = await sendMessages(
        { sqs: this.#sqs, queueUrl, retry, counters: this.counters, signal: hardSignal },
        call.messages,
      );
      for (const m of outcome.enqueued) tracker.enqueued(m);
      for (const f of outcome.failed) tracker.failed(f.message, f.error, f.attempts);
    } finally {
      this.counters.inFlight--;
      this.#bytesInFlight -= call.bytes;
    }
  }

  /**
   * Checks the queue before anything is read (a wrong URL fails as one line, not as a failed-rows
   * file) and learns its MaximumMessageSize: a queue set below our message size would refuse
   * every message.
   */
  async #queueMessageLimit(signal: AbortSignal): Promise<number> {
    const { queueUrl } = this.config;
    try {
      const res = await this.#sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['MaximumMessageSize'] }),
        { abortSignal: signal },
      );
      const max = Number(res.Attributes?.MaximumMessageSize);
      return Number.isFinite(max) && max > 0 ? max : SQS_MAX_BYTES;
    } catch (err) {
      throw sqsFailure(`--queue ${queueUrl}`, queueUrl, err);
    }
  }
}
