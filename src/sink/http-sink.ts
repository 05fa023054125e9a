import { setMaxListeners } from 'node:events';
import { AdaptiveLimit } from '../http/adaptive-limit.js';
import type { RetryAfterBrake } from '../http/retry-after-brake.js';
import { StickyHttpClient, type HttpClientConfig, type SendResult } from '../http/sticky-client.js';
import { placementLine } from '../http/lane-placement.js';
import { classifyRefusal } from '../http/retry-policy.js';
import { BulkImportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { Batch, DeliverOptions, FailedRow, Receipt, Sink, SinkReport, SinkStats } from '../types.js';
import { receiptFor } from './receipt.js';
import { sendIsolating, type PieceVerdict } from './isolate-refused.js';
import { deliverWindowed } from './window.js';

export interface HttpSinkConfig extends HttpClientConfig {
  readonly concurrency: number;
  /** 1: the body is one JSON object; more: a JSON array. */
  readonly batchSize: number;
  /**
   * Stop (exit 2, nothing marked failed) when the first batch is refused row by row before the
   * API has taken a single row: a payload of the wrong shape, not bad data. Off when the user
   * chose --max-failures, who then decides how many refusals are too many.
   */
  readonly stopWhenAllRefused?: boolean;
  /** `--concurrency auto`: the limit follows the API, from `concurrency` up to `max`. */
  readonly autoConcurrency?: { readonly max: number };
}

/** One piece's outcome: the API's answer, or a row we would not send (over --max-body-bytes). */
type PieceOutcome = { verdict: PieceVerdict; answer: SendResult };

/**
 * Direct mode: each batch is one request through the sticky lanes, unless the API refuses it for
 * its content (or it is over --max-body-bytes): then it is halved, down to single rows, so only
 * the rows refused alone are failed (see isolate-refused.ts).
 */
export class HttpSink implements Sink {
  readonly describe: string;
  readonly client: StickyHttpClient;
  /** The in-flight limit; its `concurrency` may be changed while running (the window counts, see window.ts). */
  readonly limit: { concurrency: number };
  /** `--concurrency auto`'s limiter; it sets `limit.concurrency` as each request ends. */
  readonly adaptive: AdaptiveLimit | undefined;
  #inFlight = 0;
  /** Whether the API has answered anything at all (any status) in this run. */
  #answered = false;
  /** Rows the API took in this run. */
  #delivered = 0;
  /** Set once every row of a batch was refused before any was taken: ends the other isolations too. */
  #refusedAll: BulkImportError | undefined;

  /**
   * `brake`: a Retry-After hold for every lane at a fixed concurrency (under auto the limiter
   * holds them already).
   */
  constructor(
    private readonly config: HttpSinkConfig,
    brake?: RetryAfterBrake,
  ) {
    this.describe = `${config.method} ${redactUrl(config.url)}`;
    const auto = config.autoConcurrency;
    this.adaptive = auto ? new AdaptiveLimit({ max: auto.max, initial: config.concurrency }) : undefined;
    this.client = new StickyHttpClient(config, undefined, this.adaptive, brake);
    this.limit = { concurrency: this.adaptive?.limit ?? config.concurrency };
  }

  get stats(): SinkStats {
    const { requests, retries, targets } = this.client.stats;
    const limit = this.adaptive ? { limit: this.adaptive.limit } : {};
    return { requests, retries, inFlight: this.#inFlight, targets: targets.size, ...limit };
  }

  deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt> {
    // Every lane listens on the abort signal (once, see dispatch-once.ts); by design, not a leak.
    setMaxListeners(0, opts.hardSignal);
    return deliverWindowed(batches, this.limit, (b) => this.#send(b, opts.hardSignal), opts);
  }

  /** The lanes (and how many hold a sticky cookie) on the "to" line; each lane in --summary-json. */
  report(): SinkReport {
    const lanes = this.client.lanes();
    const targets = this.client.stats.targets.size;
    const stuck = lanes.filter((l) => l.sticky).length;
    const seen = targets > 0 ? `, ${targets} targets seen` : '';
    const via = lanes.length > 0 ? ` over ${lanes.length} lanes (${stuck} holding a sticky cookie${seen})` : '';
    // --sticky lane: lanes per target at the end, and the lanes re-placed (lane-placement.ts).
    const placement = lanes.length > 0 ? this.client.placement() : undefined;
    const placed = placement
      ? { lines: [placementLine(placement)], json: { lanes, lanePlacement: placement } }
      : undefined;
    if (!this.adaptive) return { verb: 'sent', via, lines: placed?.lines ?? [], json: placed?.json ?? { lanes } };
    const a = this.adaptive.report();
    const ms = (v: number | undefined) => (v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
    const line =
      `  concurrency auto (max ${this.adaptive.max}): limit min ${a.limitMin}, median ${a.limitMedian}, max ${a.limitMax};` +
      ` API latency p50 ${ms(a.latencyP50Ms)}, p99 ${ms(a.latencyP99Ms)}; ${a.backoffs} backoffs,` +
      ` ${a.brakes} Retry-After brakes`;
    const json = { ...(placed?.json ?? { lanes }), adaptiveConcurrency: { max: this.adaptive.max, ...a } };
    return { verb: 'sent', via, lines: [line, ...(placed?.lines ?? [])], json };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * Kept small on purpose: an async function saves its whole register file each time it waits,
   * so the rare paths (isolating refused rows, failing a batch) live in methods of their own and
   * the common one, one request answered 2xx, carries no more than it needs.
   */
  async #send(batch: Batch, hardSignal: AbortSignal): Promise<Receipt> {
    const { count } = batch;
    // A batch the transform emptied still has to be acknowledged, but not sent.
    if (count === 0) return receiptFor(batch, NOT_SENT);
    this.#inFlight++;
    try {
      // The common case, one request for the batch as the source rendered it: no rows are split.
      const whole = this.config.batchSize === 1 ? (batch.single ?? (batch.rows[0] as string)) : batch.payload;
      if (this.#tooBig(whole)) return await this.#isolate(batch, undefined, hardSignal);
      const result = this.#judge(await this.client.send(whole, batch.idempotencyKey, hardSignal));
      if (!result.ok) return await this.#notTaken(batch, result, hardSignal);
      this.#delivered += count;
      return receiptFor(batch, { delivered: count, failed: NONE });
    } finally {
      this.#inFlight--;
      // The window reads the new limit at its next pull.
      if (this.adaptive) this.limit.concurrency = this.adaptive.limit;
    }
  }

  /** The API did not take the batch: isolate the refused rows, or fail them all. */
  async #notTaken(batch: Batch, result: SendResult, hardSignal: AbortSignal): Promise<Receipt> {
    if (batch.count > 1 && this.#verdictOf(result) === 'refused') return await this.#isolate(batch, result, hardSignal);
    return receiptFor(batch, { delivered: 0, failed: batch.rows.map((row) => failedRow(row, result)) });
  }

  /**
   * The batch was refused for its content (`whole` is that answer), or is over --max-body-bytes:
   * send it in halves, down to single rows. A piece over the limit is halved without being sent.
   */
  async #isolate(batch: Batch, whole: SendResult | undefined, hardSignal: AbortSignal): Promise<Receipt> {
    const { count, rows } = batch;
    const indexes = rows.map((_, i) => i);
    const unsent: SendResult = { ok: false, status: null, error: 'not sent', attempts: 0 };
    const { pieces } = await sendIsolating(indexes, async (piece, path): Promise<PieceOutcome> => {
      if (this.#refusedAll) throw this.#refusedAll;
      if (path === '' && whole) return { verdict: 'refused', answer: whole };
      const pieceRows = piece.map((i) => rows[i] as string);
      const body = this.config.batchSize === 1 ? (pieceRows[0] as string) : `[${pieceRows.join(',')}]`;
      if (this.#tooBig(body)) {
        if (piece.length > 1) return { verdict: 'refused', answer: unsent }; // halved, not sent
        const error = `row is ${Buffer.byteLength(body)} bytes, over --max-body-bytes ${this.config.maxBodyBytes}`;
        return { verdict: 'refused', answer: { ok: false, status: null, error, attempts: 0 } };
      }
      // Stable per piece, so a resumed run or a retried split sends the same keys for the same rows.
      const answer = await this.#request(body, `${batch.idempotencyKey}.${path}`, hardSignal);
      return { verdict: this.#verdictOf(answer), answer };
    });
    const failed: FailedRow[] = [];
    for (const p of pieces)
      if (!p.answer.ok) for (const i of p.rows) failed.push(failedRow(rows[i] as string, p.answer));
    this.#delivered += count - failed.length;
    if (
      this.config.stopWhenAllRefused &&
      this.#delivered === 0 &&
      count > 1 &&
      pieces.every((p) => p.verdict === 'refused')
    ) {
      // Thrown, not returned: the batch is not acknowledged, so nothing is marked failed and a
      // resume after the fix sends it again.
      const first = failed[0];
      this.#refusedAll ??= new BulkImportError(
        'TARGET_REFUSED',
        `${this.describe} refused every row of a ${count}-row batch, one by one, before taking any` +
          ` (${first?.status ?? 'not sent'}: ${first?.error.slice(0, 120) ?? ''}); check the payload shape` +
          ' (--batch-size 1 sends objects, more an array; --transform reshapes rows), or give --max-failures to go on',
      );
      throw this.#refusedAll;
    }
    return receiptFor(batch, { delivered: count - failed.length, failed });
  }

  /** One body through the client; stops the run when the API cannot be used at all. */
  async #request(body: string | Uint8Array, key: string, hardSignal: AbortSignal): Promise<SendResult> {
    return this.#judge(await this.client.send(body, key, hardSignal));
  }

  /** Passes an answer on, or throws when it says the API cannot be used at all. */
  #judge(result: SendResult): SendResult {
    if (result.status !== null) this.#answered = true;
    else if (!this.#answered) {
      // Never a single answer, even after retries: a wrong host or port, not bad rows. Failing
      // every row of the table into the failed file would help nobody at 2 a.m.
      throw new BulkImportError(
        'TARGET_UNREACHABLE',
        `cannot reach ${redactUrl(this.config.url)}: ${result.error} (after ${result.attempts} attempts)`,
      );
    }
    if (result.status !== null && !result.ok && classifyRefusal(result.status) === 'endpoint') {
      // 401, 403, 404, 3xx…: the URL, method or credentials are wrong, not the rows, and every
      // other batch would get the same answer (a token may also expire mid-run). Stop with the
      // checkpoint before this batch and nothing marked failed, so a resume after the fix sends it.
      const text = result.error === `HTTP ${result.status}` ? '' : `: ${result.error.slice(0, 120)}`;
      throw new BulkImportError(
        'TARGET_REFUSED',
        `${this.describe} answered ${result.status}${text}; ` +
          'the endpoint, method or credentials are wrong (no row was marked failed)',
      );
    }
    return result;
  }

  #verdictOf(result: SendResult): PieceVerdict {
    if (result.ok) return 'ok';
    return result.status !== null && classifyRefusal(result.status) === 'content' ? 'refused' : 'failed';
  }

  #tooBig(body: string | Uint8Array): boolean {
    const max = this.config.maxBodyBytes;
    if (max === undefined) return false;
    if (typeof body !== 'string') return body.length > max;
    // A UTF-16 unit is at most 3 UTF-8 bytes: most bodies are decided without counting.
    return body.length * 3 > max && (body.length > max || Buffer.byteLength(body) > max);
  }
}

/** No rows: shared, never written to. */
const NONE: readonly FailedRow[] = Object.freeze([]);
const NOT_SENT = { delivered: 0, failed: NONE };

function failedRow(row: string, result: SendResult): FailedRow {
  return { row, status: result.status, error: result.error, attempts: result.attempts };
}
