import type { Batch, FailedRow, Receipt } from '../types.js';

/**
 * The one way a sink answers for a batch: what it delivered and failed, plus what the source or
 * the transform did not hand it (rows rejected or skipped before sending), copied from the batch.
 * So those rows are settled with their batch's receipt, in the same step, by the pipeline.
 */
/** Shared by every receipt without rejected rows: never written to. */
const NO_ROWS: readonly FailedRow[] = Object.freeze([]);

export function receiptFor(batch: Batch, sent: { delivered: number; failed: readonly FailedRow[] }): Receipt {
  return {
    seq: batch.seq,
    firstKey: batch.firstKey,
    lastKey: batch.lastKey,
    rows: batch.count,
    delivered: sent.delivered,
    failed: sent.failed,
    rejected: batch.rejected ?? NO_ROWS,
    skipped: batch.skipped ?? 0,
  };
}
