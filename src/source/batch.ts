import { hash } from 'node:crypto';
import { splitJsonArray } from '../json/scan.js';
import type { Batch, FailedRow, KeyTuple } from '../types.js';

/**
 * A batch holds its rows, or their JSON array as text or as UTF-8 bytes, and makes the other
 * forms only when asked: the PostgreSQL source gets whole arrays from the server as bytes and
 * the HTTP sink sends them as they are, so the hot path never decodes, splits or joins rows.
 * At batch size 1 the source hands over the row's own bytes (`single`), sent as they are too.
 */
export class LazyBatch implements Batch {
  #rows: readonly string[] | undefined;
  #json: string | undefined;
  #bytes: Buffer | undefined;
  /** Batch size 1: the row's JSON as bytes (see Batch.single). */
  readonly single: Buffer | undefined;
  readonly rejected: readonly FailedRow[] | undefined;
  readonly skipped: number | undefined;

  constructor(
    readonly seq: number,
    readonly count: number,
    readonly firstKey: KeyTuple,
    readonly lastKey: KeyTuple,
    readonly idempotencyKey: string,
    content: { rows: readonly string[] } | { json: string } | { bytes: Buffer } | { single: Buffer },
    unsent?: { rejected?: readonly FailedRow[]; skipped?: number },
  ) {
    this.rejected = unsent?.rejected?.length ? unsent.rejected : undefined;
    this.skipped = unsent?.skipped ? unsent.skipped : undefined;
    if ('rows' in content) this.#rows = content.rows;
    else if ('json' in content) this.#json = content.json;
    else if ('bytes' in content) this.#bytes = content.bytes;
    else this.single = content.single; // decoded into `rows` only if asked (a failure, a transform)
  }

  get rows(): readonly string[] {
    if (this.#rows === undefined) this.#rows = this.single ? [this.single.toString('utf8')] : splitJsonArray(this.json);
    return this.#rows;
  }

  get json(): string {
    if (this.#json === undefined) this.#json = this.#bytes ? this.#bytes.toString('utf8') : `[${this.rows.join(',')}]`;
    return this.#json;
  }

  get payload(): string | Buffer {
    return this.#bytes ?? this.json;
  }
}

/**
 * The idempotency key of a batch: a hash of the job and the batch's key range. The same job
 * cuts the same batches from the same watermark, so a resumed run sends the same keys again.
 */
export function idempotencyKeyFor(jobId: string, firstKey: KeyTuple, lastKey: KeyTuple): string {
  // One-shot hash of one string: the same digest as hashing the parts in turn, without a Hash
  // object (a native handle) per batch, ~0.6 µs a batch at batch size 1.
  return hash('sha256', `${jobId}\0${JSON.stringify(firstKey)}\0${JSON.stringify(lastKey)}`, 'base64url').slice(0, 32);
}

/** Splits a JSON array's text into its elements' texts without parsing them (see src/json/scan.ts). */
export { splitJsonArray };
