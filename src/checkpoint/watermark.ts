import type { KeyTuple, Receipt } from '../types.js';

/**
 * Receipts arrive out of order; the watermark is the last key below which every row has been
 * acknowledged. It advances only past a contiguous run of seqs, or a resume would skip rows that
 * were still in flight when the run stopped.
 */
export class Watermark {
  #next: number;
  #key: KeyTuple | undefined;
  readonly #pending = new Map<number, KeyTuple>();

  constructor(start: KeyTuple | undefined, firstSeq = 0) {
    this.#key = start;
    this.#next = firstSeq;
  }

  /** The key a resumed run starts after, or undefined to start from the beginning. */
  get key(): KeyTuple | undefined {
    return this.#key;
  }

  /** Batches acknowledged but waiting for an earlier one. Bounded by the in-flight window. */
  get waiting(): number {
    return this.#pending.size;
  }

  ack(receipt: Pick<Receipt, 'seq' | 'lastKey'>): boolean {
    if (receipt.seq < this.#next) return false;
    this.#pending.set(receipt.seq, receipt.lastKey);
    let moved = false;
    for (let key = this.#pending.get(this.#next); key !== undefined; key = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      this.#key = key;
      this.#next++;
      moved = true;
    }
    return moved;
  }
}
