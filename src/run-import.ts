import { access } from 'node:fs/promises';
import { BulkImportError } from './errors.js';
import {
  assertSameJob,
  CheckpointWriter,
  jobIdOf,
  readCheckpoint,
  type Checkpoint,
  type JobFingerprint,
} from './checkpoint/checkpoint-file.js';
import { FailedFileWriter } from './checkpoint/failed-file.js';
import type { RunConfig } from './config/import-config.js';
import { defaultMaxAhead, runPipeline, type PipelineResult, type Progress } from './pipeline.js';
import { removeStaleTemps } from './checkpoint/atomic-write.js';
import { makeRedactor, redactUrl, secretsOf } from './redact.js';
import { DryRunSink } from './sink/dry-run-sink.js';
import { HttpSink } from './sink/http-sink.js';
import { RetryAfterBrake } from './http/retry-after-brake.js';
import { FailedRowsSource } from './source/failed-rows.js';
import { NdjsonSource } from './source/ndjson.js';
import { PostgresKeysetSource } from './source/postgres-keyset.js';
import { loadTransform } from './transform.js';
import { loadShard, type LoadedShard } from './shard/load-shard.js';
import type { Sink, SinkReport, Source } from './types.js';
import { planCatchUp } from './catch-up.js';
import { measureHorizon, type Horizon } from './source/changed-column.js';

export interface RunResult extends PipelineResult {
  readonly jobId: string;
  readonly source: string;
  readonly target: string;
  readonly checkpointPath: string | null;
  readonly failedPath: string | null;
  readonly resumed: boolean;
  readonly dryRun: boolean;
  /**
   * What the sink says of itself: its summary lines and counters (direct mode: `json.lanes`;
   * queue mode: `json.queue`, messages, calls and billed requests; --dry-run: `json.sampleBody`).
   */
  readonly sink: SinkReport;
  /** --changed-column: the horizon this run recorded (the copy's, or this catch-up's). */
  readonly horizon?: Horizon;
  /** --catch-up: which one, the rows it started from, and how many were re-sent inside the overlap. */
  readonly catchUp?: { readonly n: number; readonly from: string; readonly overlapRows: number };
}

export interface RunHooks {
  /** Stop reading; let the requests in flight finish and write the checkpoint. */
  readonly signal?: AbortSignal;
  /** Cancel the requests in flight too (a second interrupt). */
  readonly hardSignal?: AbortSignal;
  /** Called about five times a second, and once at the end. */
  readonly onProgress?: (p: Progress) => void;
  /** One line about something the run relies on but cannot check (a missing index, NULLs). */
  readonly onWarning?: (line: string) => void;
}

/**
 * One import, from a config checked by importConfig() (or the CLI's flags). Resolves with the
 * job's counts and how it stopped; rows that failed for good are counted (and written to the
 * failed file), not thrown. Throws a BulkImportError when the job cannot run at all.
 */
export async function runImport(config: RunConfig, given: RunHooks = {}): Promise<RunResult> {
  const hooks = {
    ...given,
    signal: given.signal ?? new AbortController().signal,
    hardSignal: given.hardSignal ?? new AbortController().signal,
  };
  const shard = config.shard ? await loadShard(config) : undefined;
  const fingerprint = fingerprintOf(config, shard);
  const jobId = jobIdOf(fingerprint);
  const checkpointPath =
    config.dryRun || config.checkpoint === null ? null : (config.checkpoint ?? `bulk-import-${jobId}.ckpt.json`);
  const failedPath =
    config.dryRun || config.failed === null ? null : (config.failed ?? `bulk-import-${jobId}.failed.ndjson`);
  const warn = given.onWarning ?? (() => undefined);
  const catchUp =
    config.catchUp && checkpointPath
      ? await planCatchUp(config, checkpointPath, fingerprint, jobId, warn, shard?.where, hooks.signal)
      : undefined;
  const source = catchUp?.source ?? makeSource(config, jobId, shard);
  const from = shard ? `${source.describe}, shard ${shard.label}` : source.describe;
  const resume = catchUp
    ? catchUp.resume
    : checkpointPath
      ? await loadResumePoint(config, checkpointPath, fingerprint)
      : undefined;
  const horizon = catchUp?.horizon ?? (await copyHorizon(config, resume, warn, hooks.signal));
  if (checkpointPath) await removeStaleTemps(checkpointPath);
  // A stop must never wait on a transform that does not answer: the transform hears it too.
  const transform = config.transform ? await loadTransform({ ...config.transform, stop: hooks.signal }) : undefined;
  const urls = [config.source.kind === 'postgres' ? config.source.url : '', config.target?.url ?? ''];
  const redact = makeRedactor(secretsOf(urls, config.target?.headers ?? {}));
  const failed = failedPath ? new FailedFileWriter(failedPath, redact) : undefined;
  const checkpoint = checkpointPath
    ? new CheckpointWriter(
        checkpointPath,
        () => failed?.sync() ?? Promise.resolve(),
        undefined,
        catchUp?.wrap ?? ((c: Checkpoint) => (horizon ? { ...c, changed: horizon } : c)),
      )
    : undefined;
  const sink = await makeSink(config, jobId);
  try {
    const keepFailed = catchUp
      ? catchUp.failedBytes
      : resume && resume.failedFile === failedPath
        ? resume.failedBytes
        : undefined;
    await failed?.start(keepFailed);
    await source.open?.(hooks.signal);
    if (resume?.complete) {
      const failedFile = resume.rows.failed > 0 ? (resume.failedFile ?? failedPath) : null;
      const done = { jobId, source: from, target: sink.describe, checkpointPath, failedPath: failedFile };
      return { ...fromCheckpoint(resume), ...done, sink: sink.report(), resumed: true, dryRun: false };
    }
    const result = await runPipeline({
      source,
      sink,
      ...(transform ? { transform } : {}),
      job: catchUp?.job ?? { id: jobId, fingerprint },
      ...(checkpoint ? { checkpoint } : {}),
      ...(failed ? { failed } : {}),
      ...(resume ? { resume } : {}),
      ...(config.maxFailures ? { maxFailures: config.maxFailures } : {}),
      ...(config.limit !== undefined ? { limit: config.limit } : {}),
      maxAhead: defaultMaxAhead(config.autoConcurrency?.max ?? config.concurrency),
      signal: hooks.signal,
      hardSignal: hooks.hardSignal,
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
    });
    return {
      ...result,
      jobId,
      source: from,
      target: sink.describe,
      checkpointPath,
      failedPath: failed && (failed.count > 0 || result.failed > 0) ? failedPath : null,
      resumed: resume !== undefined,
      dryRun: config.dryRun,
      sink: sink.report(),
      ...(horizon ? { horizon } : {}),
      ...(catchUp ? { catchUp: { n: catchUp.n, from: catchUp.from, overlapRows: catchUp.overlapRows } } : {}),
    };
  } finally {
    await Promise.all([source.close(), sink.close(), failed?.close()]);
  }
}

export function fingerprintOf(config: RunConfig, shard?: LoadedShard): JobFingerprint {
  const s = config.source;
  const target = config.queue
    ? `SQS ${config.queue.queueUrl}`
    : `${config.target?.method} ${redactUrl(config.target?.url ?? '')}`;
  if (s.kind === 'ndjson') return { source: s.path, key: ['byte offset'], target, batchSize: config.batchSize };
  if (s.kind === 'failed-rows')
    return { source: `replay ${s.path}`, key: ['line'], target, batchSize: config.batchSize };
  return {
    source: redactUrl(s.url),
    ...(s.table ? { table: s.table } : {}),
    ...(s.query ? { query: s.query } : {}),
    key: s.key,
    ...(s.where ? { where: s.where } : {}),
    target,
    batchSize: config.batchSize,
    ...(shard ? { shard: shard.label } : {}),
  };
}

async function makeSink(config: RunConfig, jobId: string): Promise<Sink> {
  if (config.dryRun) return new DryRunSink(config.batchSize);
  if (config.queue) {
    // Imported on first use: direct mode never loads the AWS SDK.
    const { SqsSink } = await import('./sink/sqs-sink.js');
    return SqsSink.forRun(config.queue, jobId, config.concurrency, config.batchSize);
  }
  if (!config.target) throw new BulkImportError('CONFIG', 'no target: give --to (or --queue)');
  const stopWhenAllRefused = config.maxFailures === undefined;
  // A Retry-After one lane gets holds every lane: the API asked this client, not one connection,
  // to wait. `--concurrency auto`'s limiter brakes all lanes itself, so it gets no second brake.
  const brake = config.autoConcurrency ? undefined : new RetryAfterBrake(config.target.retry.maxRetryAfterMs);
  return new HttpSink(
    {
      ...config.target,
      concurrency: config.concurrency,
      ...(config.autoConcurrency ? { autoConcurrency: config.autoConcurrency } : {}),
      batchSize: config.batchSize,
      stopWhenAllRefused,
    },
    brake,
  );
}

/**
 * --changed-column on a copy: the horizon is measured before the first read, and a resumed copy
 * keeps the one its first run measured (its earlier reads are older than any measured now).
 */
async function copyHorizon(
  config: RunConfig,
  resume: Checkpoint | undefined,
  warn: (line: string) => void,
  signal: AbortSignal,
): Promise<Horizon | undefined> {
  const s = config.source;
  if (resume?.changed) return resume.changed;
  if (!config.changedColumn || s.kind !== 'postgres' || config.dryRun) return undefined;
  if (resume) {
    throw new BulkImportError(
      'CONFIG',
      '--changed-column: this copy started without it, so its horizon is unknown; add --restart to copy again',
    );
  }
  const src = {
    url: s.url,
    ...(s.table ? { table: s.table } : {}),
    ...(s.query ? { query: s.query } : {}),
    ...(s.where ? { where: s.where } : {}),
    statementTimeoutMs: s.statementTimeoutMs,
  };
  const measure = { overlap: config.catchUpOverlap, waitMs: config.catchUpWaitMs, signal };
  return measureHorizon(src, config.changedColumn, measure, warn);
}

export function makeSource(config: RunConfig, jobId: string, shard?: LoadedShard): Source {
  const s = config.source;
  // --limit reaches the source through the pipeline only, which accounts for what earlier runs read.
  if (s.kind === 'ndjson')
    return new NdjsonSource({ path: s.path, maxLineBytes: s.maxLineBytes, batchSize: config.batchSize, jobId });
  if (s.kind === 'failed-rows') return new FailedRowsSource({ path: s.path, batchSize: config.batchSize, jobId });
  // A shard reads only its key range: the range joins the --where of every statement the source runs.
  const where = shard ? shard.where : s.where;
  return new PostgresKeysetSource({
    url: s.url,
    ...(s.table ? { table: s.table } : {}),
    ...(s.query ? { query: s.query } : {}),
    key: s.key,
    ...(where ? { where } : {}),
    batchSize: config.batchSize,
    pageRows: s.pageRows,
    statementTimeoutMs: s.statementTimeoutMs,
    jobId,
  });
}

/**
 * With --resume the checkpoint must exist and be this job's. Without it, an unfinished
 * checkpoint is not silently overwritten: that would throw away the record of where a
 * production import stopped.
 */
async function loadResumePoint(config: RunConfig, path: string, job: JobFingerprint): Promise<Checkpoint | undefined> {
  if (config.resume) {
    const ckpt = await readCheckpoint(path);
    assertSameJob(ckpt, job, path);
    return ckpt;
  }
  if (config.restart || !(await exists(path))) return undefined;
  let ckpt: Checkpoint;
  try {
    ckpt = await readCheckpoint(path);
  } catch (err) {
    // A damaged checkpoint may be the only record of where a production import stopped.
    const why = err instanceof BulkImportError ? err.message : String(err);
    throw new BulkImportError(
      'CHECKPOINT_UNREADABLE',
      `${why}; it is kept: repair it, or add --restart to start the job over`,
    );
  }
  if (!ckpt.complete) {
    throw new BulkImportError(
      'USAGE',
      `checkpoint ${path} holds an unfinished run: add --resume to carry on, or --restart to start over`,
    );
  }
  return undefined;
}

function fromCheckpoint(c: Checkpoint): PipelineResult {
  return {
    ...c.rows,
    total: c.rows.read,
    elapsedMs: 0,
    inFlight: 0,
    requests: 0,
    retries: 0,
    targets: 0,
    stoppedBy: 'completed',
    watermark: c.watermark,
    thisRun: { read: 0, delivered: 0, failed: 0, skipped: 0 },
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
