import { createHash } from 'node:crypto';
import type { CatchUpState } from './checkpoint/catch-up-state.js';
import { assertSameJob, readCheckpoint, type Checkpoint, type JobFingerprint } from './checkpoint/checkpoint-file.js';
import type { RunConfig } from './config/import-config.js';
import { BulkImportError } from './errors.js';
import {
  changedSince,
  countChangedBetween,
  measureHorizon,
  overlapEnd,
  type Horizon,
} from './source/changed-column.js';
import { PostgresKeysetSource } from './source/postgres-keyset.js';

/** What a catch-up run is: which rows, from which watermark, and how its state sits in the checkpoint. */
export interface CatchUpPlan {
  readonly n: number;
  readonly from: string;
  readonly horizon: Horizon;
  readonly overlapRows: number;
  readonly source: PostgresKeysetSource;
  /** The catch-up's own job: its id (of its idempotency keys) and its key (changed, key…). */
  readonly job: { readonly id: string; readonly fingerprint: JobFingerprint };
  /** The catch-up as a checkpoint of its own, for the pipeline to carry on from (a resumed catch-up). */
  readonly resume?: Checkpoint;
  /** The pipeline's checkpoint of this catch-up → the whole file: the copy's, with this catch-up in `catchUps`. */
  readonly wrap: (inner: Checkpoint) => unknown;
  /** The failed file's size that matches every earlier run's counts. */
  readonly failedBytes?: number;
}

/**
 * Plans `--catch-up` from a complete copy's checkpoint: a new catch-up from the last horizon, or
 * the unfinished one carried on. It pages on (changed, key), so it is exact and resumable like
 * the copy; its idempotency keys derive from the job and its start horizon, and each batch's
 * first and last (changed, key): a row changed twice is a new request, a retried batch the same.
 */
export async function planCatchUp(
  config: RunConfig,
  path: string,
  job: JobFingerprint,
  jobId: string,
  warn: (line: string) => void,
  /** A shard's range joined to --where (see makeSource): a shard catches up on its own rows only. */
  rangeWhere?: string,
  /** A stop while a version horizon waits for open writers ends the wait. */
  signal?: AbortSignal,
): Promise<CatchUpPlan> {
  const s = config.source;
  if (s.kind !== 'postgres') throw new BulkImportError('USAGE', '--catch-up needs a PostgreSQL source');
  const userWhere = rangeWhere ?? s.where;
  const outer = await readCheckpoint(path);
  assertSameJob(outer, job, path);
  if (!outer.complete)
    throw new BulkImportError('USAGE', `checkpoint ${path} holds an unfinished copy: finish it with --resume first`);
  if (!outer.changed) {
    throw new BulkImportError(
      'CONFIG',
      `checkpoint ${path} has no horizon: the copy ran without --changed-column, so what changed since cannot be known`,
    );
  }
  const column = outer.changed.column;
  if (config.changedColumn !== undefined && config.changedColumn !== column) {
    throw new BulkImportError(
      'CONFIG',
      `--changed-column ${config.changedColumn}: the copy recorded its horizon on ${column}`,
    );
  }
  const done = outer.catchUps ?? [];
  const last = done.at(-1);
  const carryOn = last && !last.complete ? last : undefined;
  const earlier = carryOn ? done.slice(0, -1) : done;
  const previous = earlier.at(-1)?.horizon ?? outer.changed;
  const from = previous.at;
  const overlapUntil = overlapEnd(previous);
  const src = {
    url: s.url,
    ...(s.table ? { table: s.table } : {}),
    ...(s.query ? { query: s.query } : {}),
    ...(userWhere ? { where: userWhere } : {}),
    statementTimeoutMs: s.statementTimeoutMs,
  };
  // A resumed catch-up keeps its horizon: it was measured before its first read.
  const measure = {
    overlap: config.catchUpOverlap,
    waitMs: config.catchUpWaitMs,
    previous,
    ...(signal ? { signal } : {}),
  };
  const horizon = carryOn?.horizon ?? (await measureHorizon(src, column, measure, warn));
  const overlapRows = carryOn?.overlapRows ?? (await countChangedBetween(src, previous));
  const n = earlier.length + 1;
  const innerId = createHash('sha256').update(`${jobId} catch-up ${n} from ${from}`).digest('hex').slice(0, 16);
  const key = [column, ...s.key.filter((k) => k !== column)];
  const where = [userWhere ? `(\n${userWhere}\n)` : '', changedSince(previous)].filter(Boolean).join(' AND ');
  const source = new PostgresKeysetSource({
    url: s.url,
    ...(s.table ? { table: s.table } : {}),
    ...(s.query ? { query: s.query } : {}),
    key,
    where,
    batchSize: config.batchSize,
    pageRows: s.pageRows,
    statementTimeoutMs: s.statementTimeoutMs,
    jobId: innerId,
  });
  const failedBytes = carryOn ? carryOn.failedBytes : (earlier.at(-1)?.failedBytes ?? outer.failedBytes);
  const resume: Checkpoint | undefined = carryOn && {
    version: 1,
    jobId: innerId,
    job: { ...job, key },
    watermark: carryOn.watermark,
    rows: carryOn.rows,
    ...(carryOn.ahead ? { ahead: carryOn.ahead } : {}),
    complete: false,
    runs: carryOn.runs,
    startedAt: carryOn.startedAt,
    updatedAt: carryOn.updatedAt,
    ...(outer.failedFile ? { failedFile: outer.failedFile } : {}),
    ...(carryOn.failedBytes !== undefined ? { failedBytes: carryOn.failedBytes } : {}),
  };
  const wrap = (inner: Checkpoint): Checkpoint => {
    const state: CatchUpState = {
      n,
      from,
      overlapUntil,
      horizon,
      watermark: inner.watermark,
      ...(inner.ahead ? { ahead: inner.ahead } : {}),
      rows: inner.rows,
      overlapRows,
      complete: inner.complete,
      runs: inner.runs,
      startedAt: inner.startedAt,
      updatedAt: inner.updatedAt,
      ...(inner.failedBytes !== undefined ? { failedBytes: inner.failedBytes } : {}),
      ...(inner.stoppedBy ? { stoppedBy: inner.stoppedBy } : {}),
    };
    return { ...outer, updatedAt: inner.updatedAt, catchUps: [...earlier, state] };
  };
  return {
    n,
    from,
    horizon,
    overlapRows,
    source,
    job: { id: innerId, fingerprint: { ...job, key } },
    ...(resume ? { resume } : {}),
    wrap,
    ...(failedBytes !== undefined ? { failedBytes } : {}),
  };
}
