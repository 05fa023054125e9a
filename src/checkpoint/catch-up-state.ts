import type { Horizon } from '../source/changed-column.js';
import type { KeyTuple } from '../types.js';
import type { RowCounts } from './checkpoint-file.js';
import type { AheadBatch } from './watermark.js';

/**
 * One catch-up run, kept in the copy's checkpoint file (`catchUps`): it reads the rows whose
 * changed column (a time or a version) is ≥ `from` (the previous run's horizon), keyset-paged on (changed, key), so
 * its watermark has one more value than the job's key. Once complete, its `horizon.at` is
 * where the next catch-up starts.
 */
export interface CatchUpState {
  /** 1 for the first catch-up after the copy. */
  readonly n: number;
  /** The previous horizon's `at`: an ISO time, or a version (decimal text) for a version column. */
  readonly from: string;
  /**
   * The previous run's horizon before the overlap (for a version, the largest it could send, see
   * VersionHorizon.seen): rows changed before it were re-sent inside the overlap.
   */
  readonly overlapUntil: string;
  readonly horizon: Horizon;
  readonly watermark: KeyTuple | null;
  readonly ahead?: readonly AheadBatch[];
  readonly rows: RowCounts;
  /** Rows read with from ≤ changed < overlapUntil (counted before reading). */
  readonly overlapRows: number;
  readonly complete: boolean;
  readonly runs: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly failedBytes?: number;
  readonly stoppedBy?: string;
}
