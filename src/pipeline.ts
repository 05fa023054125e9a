import type { Checkpoint, CheckpointWriter, JobFingerprint, RowCounts } from './checkpoint/checkpoint-file.js';
import type { FailedFileWriter } from './checkpoint/failed-file.js';
import { CarriedBatches } from './checkpoint/carried-batches.js';
import { Watermark } from './checkpoint/watermark.js';
import { applyTransform, type TransformFn } from './transform.js';
import type { FailedRow, KeyTuple, Sink, Source } from './types.js';

export interface Progress extends RowCounts {
  total: number | null;
  elapsedMs: number;
  inFlight: number;
  requests: number;
  retries: number;
  targets: number;
  /** `--concurrency auto`: the limit now. */
  limit?: number;
}

export type StopReason = 'completed' | 'interrupted' | 'aborted' | 'too-many-failures';

export interface PipelineResult extends Progress {
  readonly stoppedBy: StopReason;
  readonly watermark: KeyTuple | null;
  /** Counts of this run only (the checkpoint carries the totals across resumed runs). */
  readonly thisRun: RowCounts;
}

export interface MaxFailures {
  readonly count?: number;
  readonly ratio?: number;
}

export interface PipelineOptions {
  readonly source: Source;
  readonly sink: Sink;
  readonly transform?: TransformFn;
  readonly job: { id: string; fingerprint: JobFingerprint };
  readonly checkpoint?: CheckpointWriter;
  readonly failed?: FailedFileWriter;
  /** The checkpoint a resumed run carries on from. */
  readonly resume?: Checkpoint;
  readonly maxFailures?: MaxFailures;
  /** The job's --limit: a resumed run reads only what earlier runs did not. */
  readonly limit?: number;
  readonly signal: AbortSignal;
  readonly hardSignal: AbortSignal;
  readonly onProgress?: (p: Progress) => void;
  readonly progressIntervalMs?: number;
  /**
   * How many batches may be acknowledged above the oldest one still out before no new batch is
   * pulled. Those batches are recorded in the checkpoint (so a kill does not re-send them); the
   * limit keeps that record, and what a stalled batch holds back, small.
   */
  readonly maxAhead?: number;
}

/** The default of maxAhead for a sink of this concurrency. */
export function defaultMaxAhead(concurrency: number): number {
  return Math.max(64, 8 * concurrency);
}

/** A ratio of failures is judged only after this many rows, so one early bad batch does not abort a big run. */
const RATIO_MIN_ROWS = 1000;

/**
 * Wires source → transform → sink → checkpoint. It knows no concrete source or sink: it pulls
 * receipts, records failures, advances the watermark and reports progress.
 */
export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const started = Date.now();
  const before: RowCounts = o.resume ? { ...o.resume.rows } : { read: 0, delivered: 0, failed: 0, skipped: 0 };
  const run: RowCounts = { read: 0, delivered: 0, failed: 0, skipped: 0 };
  const watermark = new Watermark(o.resume?.watermark ?? undefined);
  // Batches an earlier run acknowledged above its watermark: read again, not sent again.
  const carried = new CarriedBatches(o.resume?.ahead);
  let failedBytes = o.failed?.bytes ?? 0;
  const stop = new AbortController(); // our own soft stop (max failures), joined with the caller's
  const soft = AbortSignal.any([o.signal, stop.signal]);
  let total: number | null = null;
  let stoppedBy: StopReason = 'completed';
  // The job's total is capped by its --limit (which the source never sees: see below).
  const capped = (n: number | null) => (o.limit === undefined ? n : n === null ? o.limit : Math.min(n, o.limit));
  void o.source.estimateTotal().then(
    (n) => (total = capped(n)),
    () => undefined,
  );

  /** The job's counts: earlier runs' (from the checkpoint) plus this one's; each row once. */
  const totals = (): RowCounts => ({
    read: before.read + run.read,
    delivered: before.delivered + run.delivered,
    failed: before.failed + run.failed,
    skipped: before.skipped + run.skipped,
  });
  const progress = (): Progress => {
    const s = o.sink.stats;
    return {
      ...totals(),
      total,
      elapsedMs: Date.now() - started,
      inFlight: s.inFlight,
      requests: s.requests,
      retries: s.retries,
      targets: s.targets,
      ...(s.limit !== undefined ? { limit: s.limit } : {}),
    };
  };
  const checkpointState = (complete: boolean): Checkpoint => {
    const ahead = complete ? [] : [...carried.pending(), ...watermark.ahead()];
    return {
      version: 1,
      jobId: o.job.id,
      job: o.job.fingerprint,
      watermark: watermark.key ?? null,
      rows: totals(),
      ...(ahead.length > 0 ? { ahead } : {}),
      complete,
      runs: (o.resume?.runs ?? 0) + 1,
      startedAt: o.resume?.startedAt ?? new Date(started).toISOString(),
      updatedAt: new Date().toISOString(),
      ...(o.failed ? { failedFile: o.failed.path, failedBytes } : {}),
      ...(stoppedBy !== 'completed' ? { stoppedBy } : {}),
    };
  };

  const unfinished = () => checkpointState(false);
  // Written before the first read, so even a run killed in its first second can be resumed.
  o.checkpoint?.update(unfinished);
  await o.checkpoint?.flush();
  const tick = setInterval(() => o.onProgress?.(progress()), o.progressIntervalMs ?? 200);
  tick.unref();
  // The limit counts rows earlier runs settled; the carried batches are read again, so they count here.
  const limit = o.limit === undefined ? {} : { limit: Math.max(0, o.limit - (before.read - carried.rows)) };
  let batches = o.source.batches({ after: watermark.key, signal: soft, ...limit });
  if (carried.size > 0) {
    batches = carried.skip(batches, (b, rows) => {
      watermark.ack({ seq: b.seq, firstKey: b.firstKey, lastKey: b.lastKey, rows });
      o.checkpoint?.update(unfinished);
    });
  }
  if (o.transform) batches = applyTransform(batches, o.transform, soft);
  const maxAhead = o.maxAhead ?? defaultMaxAhead(64);
  const mayPull = () => watermark.waiting < maxAhead;
  let error: unknown;
  try {
    for await (const receipt of o.sink.deliver(batches, { signal: soft, hardSignal: o.hardSignal, mayPull })) {
      // Rows the source or the transform did not send ride on the receipt: settled with their batch.
      const failed: readonly FailedRow[] =
        receipt.rejected.length > 0 ? [...receipt.rejected, ...receipt.failed] : receipt.failed;
      const read = receipt.rows + receipt.skipped + receipt.rejected.length;
      if (failed.length > 0) await o.failed?.write(failed);
      // Counted, acknowledged and measured in one step after the write: a checkpoint taken at any
      // instant has counts, watermark and failed-file size that agree.
      run.read += read;
      run.delivered += receipt.delivered;
      run.skipped += receipt.skipped;
      run.failed += failed.length;
      failedBytes = o.failed?.bytes ?? 0;
      watermark.ack({ seq: receipt.seq, firstKey: receipt.firstKey, lastKey: receipt.lastKey, rows: read });
      o.checkpoint?.update(unfinished);
      if (!stop.signal.aborted && tooManyFailures(o.maxFailures, before.failed + run.failed, before.read + run.read)) {
        stoppedBy = 'too-many-failures';
        stop.abort();
      }
    }
  } catch (err) {
    error = err; // the watermark is still true: persist it before reporting the failure
  } finally {
    clearInterval(tick);
  }
  if (error !== undefined) stoppedBy = 'aborted';
  else if (stoppedBy === 'completed' && o.signal.aborted) stoppedBy = o.hardSignal.aborted ? 'aborted' : 'interrupted';
  const complete = stoppedBy === 'completed';
  o.checkpoint?.update(() => checkpointState(complete));
  await o.failed?.sync();
  await o.checkpoint?.flush();
  if (error !== undefined) throw error;
  o.onProgress?.(progress());
  return { ...progress(), stoppedBy, watermark: watermark.key ?? null, thisRun: { ...run } };
}

function tooManyFailures(max: MaxFailures | undefined, failed: number, processed: number): boolean {
  if (!max) return false;
  if (max.count !== undefined && failed > max.count) return true;
  return max.ratio !== undefined && processed >= RATIO_MIN_ROWS && failed / processed > max.ratio;
}
