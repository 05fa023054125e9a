import type { Batch, KeyTuple } from '../types.js';
import type { AheadBatch } from './watermark.js';

/**
 * Batches an earlier run acknowledged above its watermark (the checkpoint's `ahead`): a resumed
 * run reads them again but does not send them again.
 */
export class CarriedBatches {
  readonly #byRange: Map<string, AheadBatch>;
  /** Rows of all carried batches: a resumed run's --limit counts them as still to read. */
  readonly rows: number;

  constructor(ahead: readonly AheadBatch[] = []) {
    this.#byRange = new Map(ahead.map((b) => [rangeId(b), b]));
    this.rows = ahead.reduce((n, b) => n + b.rows, 0);
  }

  get size(): number {
    return this.#byRange.size;
  }

  /** Those not met again yet: still to be recorded as ahead in the checkpoint. */
  pending(): AheadBatch[] {
    return [...this.#byRange.values()];
  }

  /**
   * Drops the carried batches from `batches`, calling `onSkipped` for each. A job cuts the same
   * batches from the same watermark, so a carried batch comes back with the same key range and
   * rows; one that does not (rows were added or removed meanwhile) is simply sent again: at least
   * once, never lost.
   */
  async *skip(batches: AsyncIterable<Batch>, onSkipped: (b: Batch, rows: number) => void): AsyncIterable<Batch> {
    for await (const b of batches) {
      const id = this.#byRange.size > 0 ? rangeId(b) : '';
      const was = this.#byRange.get(id);
      const rows = b.count + (b.skipped ?? 0) + (b.rejected?.length ?? 0);
      if (was && was.rows === rows) {
        this.#byRange.delete(id);
        onSkipped(b, rows);
      } else yield b;
    }
  }
}

function rangeId(b: { firstKey: KeyTuple; lastKey: KeyTuple }): string {
  return JSON.stringify([b.firstKey, b.lastKey]);
}
