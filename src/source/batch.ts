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
  #single: Buffer | undefined;
  /** Set by a source that reuses the batch's memory once the sink releases it (see Batch.release). */
  #onRelease: (() => void) | undefined;
  #released = false;
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
    else this.#single = content.single; // decoded into `rows` only if asked (a failure, a transform)
  }

  /** Batch size 1: the row's JSON as bytes (see Batch.single). */
  get single(): Buffer | undefined {
    return this.#unreleased(this.#single);
  }

  /** Hands the batch's memory back to its source: `onRelease` runs at the first release(). */
  recycledBy(onRelease: () => void): this {
    this.#onRelease = onRelease;
    return this;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#onRelease?.();
  }

  /** Bytes a released batch no longer owns: reading them would read whatever reuses them. */
  #unreleased(bytes: Buffer | undefined): Buffer | undefined {
    if (bytes && this.#released && this.#onRelease) throw new Error(`batch ${this.seq} was read after its release`);
    return bytes;
  }

  get rows(): readonly string[] {
    if (this.#rows === undefined) {
      const single = this.single;
      this.#rows = single ? [single.toString('utf8')] : splitJsonArray(this.json);
    }
    return this.#rows;
  }

  get json(): string {
    if (this.#json === undefined) {
      const bytes = this.#unreleased(this.#bytes);
      this.#json = bytes ? bytes.toString('utf8') : `[${this.rows.join(',')}]`;
    }
    return this.#json;
  }

  get payload(): string | Buffer {
    return this.#unreleased(this.#bytes) ?? this.json;
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
