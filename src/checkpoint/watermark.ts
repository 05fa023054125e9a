import type { KeyTuple } from '../types.js';

/** A batch acknowledged while an earlier one is still out: it is recorded, so a resume skips it. */
export interface AheadBatch {
  readonly firstKey: KeyTuple;
  readonly lastKey: KeyTuple;
  /** Rows of the batch's key range that were settled (sent, failed or skipped). */
  readonly rows: number;
}

/**
 * Receipts arrive out of order; the watermark is the last key below which every row has been
 * acknowledged. It advances only past a contiguous run of seqs, or a resume would skip rows that
 * were still in flight when the run stopped. Batches acknowledged above it are kept (`ahead`) and
 * written to the checkpoint with it, so a kill re-sends only what was really in flight.
 */
export class Watermark {
  #next: number;
  #key: KeyTuple | undefined;
  readonly #pending = new Map<number, AheadBatch>();

  constructor(start: KeyTuple | undefined, firstSeq = 0) {
    this.#key = start;
    this.#next = firstSeq;
  }

  /** The key a resumed run starts after, or undefined to start from the beginning. */
  get key(): KeyTuple | undefined {
    return this.#key;
  }

  /** Batches acknowledged but waiting for an earlier one. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** The batches acknowledged above the watermark, in key order. */
  ahead(): AheadBatch[] {
    return [...this.#pending.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  }

  ack(receipt: { seq: number; lastKey: KeyTuple; firstKey?: KeyTuple; rows?: number }): boolean {
    if (receipt.seq < this.#next) return false;
    if (receipt.seq === this.#next && this.#pending.size === 0) {
      // In order with nothing waiting (most receipts): the watermark moves, nothing is recorded.
      this.#key = receipt.lastKey;
      this.#next++;
      return true;
    }
    const { lastKey, firstKey = lastKey, rows = 0 } = receipt;
    this.#pending.set(receipt.seq, { firstKey, lastKey, rows });
    let moved = false;
    for (let b = this.#pending.get(this.#next); b !== undefined; b = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      this.#key = b.lastKey;
      this.#next++;
      moved = true;
    }
    return moved;
  }
}
