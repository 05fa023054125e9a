/**
 * The contracts every source, sink and the pipeline share.
 *
 * A Source turns a table (or an NDJSON stream) into numbered batches, cut deterministically
 * from key order. A Sink delivers batches and answers each one with a Receipt, possibly out of
 * order. The pipeline pulls receipts from the sink, the sink pulls batches from the source:
 * backpressure comes from pulling, so nothing reads ahead of what the sink has room for.
 */

/**
 * A key as PostgreSQL renders it in text, one string per key column (or, for NDJSON, the byte
 * offset just past the batch's last line). Keys never travel through a JS Number or Date, so a
 * bigint above 2^53 or a timestamptz with microseconds pages exactly.
 */
export type KeyTuple = readonly string[];

export interface Batch {
  /** 0, 1, 2, … in key order within one run; receipts come back with the same seq. */
  readonly seq: number;
  readonly count: number;
  /**
   * The rows as one JSON array text, exactly as the source rendered them. Rows are not parsed
   * unless a transform asks for objects, so numerics and bigints arrive as stored.
   */
  readonly json: string;
  /**
   * The JSON array to send: `json`, or the same as UTF-8 bytes when the source read it as
   * bytes (then no JS string of it is ever made unless something asks for `json` or `rows`).
   */
  readonly payload: string | Uint8Array;
  /** Each row's JSON text; materialised on demand (failures, transforms, batch size 1). */
  readonly rows: readonly string[];
  /**
   * Batch size 1 read as bytes: the one row's JSON (the object itself, not an array of one) as
   * UTF-8, sent as it is, so no JS string of it is ever made; undefined otherwise (use `rows[0]`).
   */
  readonly single?: Uint8Array;
  /**
   * The sink is done with the rows (the batch's receipt is made; nothing reads them again): the
   * source may reuse their memory. A sink that never calls it leaves that memory to the GC.
   */
  release?(): void;
  /** The key of the first and last row; the watermark moves to `lastKey` once acknowledged. */
  readonly firstKey: KeyTuple;
  readonly lastKey: KeyTuple;
  /**
   * Stable across retries and across resumed runs: derived from the job and the batch's key
   * range, so an API can deduplicate what a resumed run re-sends.
   */
  readonly idempotencyKey: string;
  /**
   * Rows of this batch's key range that are not sent: rows the source could not read (a broken
   * NDJSON line) or the transform refused, as failed rows, and how many the transform skipped.
   * They ride on to the batch's receipt (see receiptFor) and are settled (counted, and written to
   * the failed file) when it comes back, so the watermark never passes a failure not on disk yet.
   */
  readonly rejected?: readonly FailedRow[];
  readonly skipped?: number;
}

/** One row (or a whole batch, when rows cannot be told apart) that failed for good. */
export interface FailedRow {
  readonly row: string;
  readonly status: number | null;
  readonly error: string;
  readonly attempts: number;
  /** Not a row at all (an NDJSON line that is not JSON or not UTF-8): `row` is its text as a JSON string. */
  readonly unreadable?: true;
}

/** A sink's answer for one batch; built by receiptFor() (src/sink/receipt.ts) so nothing is dropped. */
export interface Receipt {
  readonly seq: number;
  readonly firstKey: KeyTuple;
  readonly lastKey: KeyTuple;
  /** Rows the sink was given (the batch's count). */
  readonly rows: number;
  readonly delivered: number;
  /** Rows the sink failed for good. */
  readonly failed: readonly FailedRow[];
  /** The batch's rows failed before the sink (unreadable, refused by the transform), carried over. */
  readonly rejected: readonly FailedRow[];
  /** The batch's rows the transform skipped, carried over. */
  readonly skipped: number;
}

export interface Source {
  /** A short description without secrets, for the summary and the checkpoint fingerprint. */
  readonly describe: string;
  /**
   * Connects and validates (table, columns, file) so a typo fails before anything is sent. A
   * stop (`signal`) cuts a slow validation short; batches() then yields nothing.
   */
  open?(signal?: AbortSignal): Promise<void>;
  /** Rows of the whole job (ignoring any watermark), when it can tell cheaply; null when unknown. */
  estimateTotal(): Promise<number | null>;
  /**
   * Batches strictly after `after` (the watermark of a resumed run), in key order, at most
   * `limit` rows (a resumed run passes the job's --limit less what earlier runs read).
   */
  batches(from: { after?: KeyTuple; limit?: number; signal: AbortSignal }): AsyncIterable<Batch>;
  close(): Promise<void>;
}

/** Live counters a sink keeps; the pipeline copies them into progress reports. */
export interface SinkStats {
  requests: number;
  retries: number;
  inFlight: number;
  /** Distinct targets seen (by the balancer's sticky cookie or a target header), if known. */
  targets: number;
  /** `--concurrency auto`: the limit now. */
  limit?: number;
}

export interface DeliverOptions {
  readonly signal: AbortSignal;
  readonly hardSignal: AbortSignal;
  /**
   * Asked before each pull of a new batch while something is in flight: false holds the pull
   * until more work completes. The pipeline uses it to keep the window from running far ahead
   * of the oldest unacknowledged batch (see pipeline.ts).
   */
  readonly mayPull?: () => boolean;
}

/**
 * What a sink says about itself at the end of a run: its part of the printed summary and its
 * counters for --summary-json. The core and the summary use only this, never the sink's class.
 */
export interface SinkReport {
  /** How the summary names delivered rows: 'sent', 'enqueued', 'would be sent'. */
  readonly verb: string;
  /** Appended to the summary's "to" line (e.g. " over 32 lanes (…)"); '' for nothing. */
  readonly via: string;
  /** Summary lines of its own (indented by two spaces), printed after the "to" line. */
  readonly lines: readonly string[];
  /** Its counters and structured data, merged into --summary-json. */
  readonly json: Readonly<Record<string, unknown>>;
}

export interface Sink {
  readonly describe: string;
  readonly stats: SinkStats;
  /** Its summary lines and counters so far; asked once a run has ended. */
  report(): SinkReport;
  /**
   * Deliver batches with at most the sink's concurrency in flight, yielding a receipt per batch
   * as each completes. Rows that fail permanently are reported in the receipt, not thrown.
   * When `signal` aborts, the sink stops pulling new batches, lets in-flight ones finish (their
   * receipts are still yielded) and ends; a second abort (`hardSignal`) cancels in-flight work.
   */
  deliver(batches: AsyncIterable<Batch>, opts: DeliverOptions): AsyncIterable<Receipt>;
  close(): Promise<void>;
}
