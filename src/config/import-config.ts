import { usage } from '../errors.js';
import type { MaxFailures } from '../pipeline.js';
import type { TransformSpec } from '../transform.js';
import { IMPORT_DEFAULTS } from './defaults.js';
import { optionName, type NameOf } from './names.js';
import { parseQueueConfig, type QueueConfig, type QueueOptions } from './queue-config.js';
import * as rule from './rules.js';
import { parseQualifiedName } from '../source/sql.js';
import type { Count, Duration } from './rules.js';
import { parseSource, type SourceConfig, type SourceOptions } from './source-config.js';
import { parseTarget, type TargetConfig, type TargetOptions } from './target-config.js';
import { parseShard, type ShardOptions } from '../shard/shard-config.js';
import type { ShardChoice } from '../shard/shard-plan.js';

export type { QueueConfig, SourceConfig, TargetConfig };

/** One import, checked: what runImport takes. Build it with importConfig() (or the CLI's flags). */
export interface RunConfig {
  readonly source: SourceConfig;
  /** Direct mode's API; absent in queue mode. */
  readonly target?: TargetConfig;
  /** Queue mode: rows go to SQS, and `forward` or the Lambda delivers them. */
  readonly queue?: QueueConfig;
  /** The job's row limit; a resumed run reads only what earlier runs did not. */
  readonly limit?: number;
  readonly batchSize: number;
  /** With `autoConcurrency`, where the limiter starts. */
  readonly concurrency: number;
  /** `--concurrency auto`: the limit follows the API's latency and overload answers, up to `max`. */
  readonly autoConcurrency?: { readonly max: number };
  readonly transform?: TransformSpec;
  readonly dryRun: boolean;
  /** The CLI's progress bar; the library reports progress through onProgress instead. */
  readonly progress: boolean;
  /** A path; undefined = the default path for this job; null = none. */
  readonly checkpoint?: string | null;
  readonly resume: boolean;
  readonly restart: boolean;
  /** A path; undefined = the default path for this job; null = none (failures only counted). */
  readonly failed?: string | null;
  readonly maxFailures?: MaxFailures;
  /** The CLI writes the summary there as JSON. */
  readonly summaryJson?: string;
  /** One shard of a plan: reads only its key range, with its own checkpoint and job id. */
  readonly shard?: ShardChoice;
  /** --changed-column: a timestamp (or bigint version) column the copy records a horizon for, and catch-ups page on. */
  readonly changedColumn?: string;
  /** Send the rows changed since the checkpoint's last horizon (a complete copy's checkpoint). */
  readonly catchUp: boolean;
  readonly catchUpOverlap: CatchUpOverlap;
  /** A bigint version horizon waits this long for the transactions that have written to end. */
  readonly catchUpWaitMs: number;
}

/**
 * --catch-up-overlap read both ways, because which one applies is known only once the column's
 * type is (a query away): a duration for a timestamp column, a count of versions for a bigint
 * one. A value that reads only one way is refused (exit 2) when the column is of the other kind.
 */
export interface CatchUpOverlap {
  /** What was given, for the message; undefined when the defaults apply. */
  readonly given?: string;
  readonly ms?: number;
  readonly versions?: number;
}

/**
 * An import's options, named as the CLI's flags in camelCase. Counts may be numbers or their
 * text; durations milliseconds or a text like '30s'. Everything left out takes its default
 * (src/config/defaults.ts).
 */
export interface ImportOptions extends SourceOptions, TargetOptions, QueueOptions, ShardOptions {
  /** Stop after this many rows (of the job, across resumed runs). */
  limit?: Count;
  /** A .js/.mjs module whose default export maps a row object to a payload (null skips it). */
  transform?: string;
  transformTimeout?: Duration;
  dryRun?: boolean;
  progress?: boolean;
  /** A checkpoint file; false or null for none. */
  checkpoint?: string | false | null;
  resume?: boolean;
  restart?: boolean;
  /** The file rows that failed for good go to; false or null for none (they are only counted). */
  failed?: string | false | null;
  /** A row count, or a ratio of rows processed such as 0.05. */
  maxFailures?: Count;
  summaryJson?: string;
  /** A timestamp(tz) column set on every insert and update (e.g. updated_at). */
  changedColumn?: string;
  /** Send the rows changed since the copy (or the last catch-up) recorded in the checkpoint. */
  catchUp?: boolean;
  /** A duration for a timestamp column (default 1m), a whole number of versions for a bigint one (default 1000). */
  catchUpOverlap?: Duration;
  /** How long a bigint version horizon waits for the open writing transactions to end (default 1m). */
  catchUpWait?: Duration;
  /** With concurrency 'auto': the limiter's ceiling. */
  maxConcurrency?: Count;
}

/** Options of direct mode's HTTP client: in queue mode `forward` (or the Lambda) takes them instead. */
const HTTP_ONLY = [
  'header',
  'method',
  'sticky',
  'timeout',
  'rate',
  'targetHeader',
  'restickAfter',
  'maxBodyBytes',
] as const;

/**
 * The library's way to a RunConfig: the same checks and defaults as the CLI, messages naming the
 * options. Throws BulkImportError('USAGE', one line). `env` supplies DATABASE_URL and the AWS_*
 * settings of queue mode.
 */
export function importConfig(options: ImportOptions, env: NodeJS.ProcessEnv = process.env): RunConfig {
  return buildImportConfig(options, env, optionName);
}

/** importConfig with the reporter's names: the CLI passes flagName. */
export function buildImportConfig(o: ImportOptions, env: NodeJS.ProcessEnv, n: NameOf): RunConfig {
  const source = parseSource(o, env, n);
  const queue = parseQueueConfig(o, env, n);
  if (queue && o.to) {
    throw usage(
      `${n('to')} and ${n('queue')} do not go together: ` +
        'queue mode enqueues rows; `bulk-import forward --to …` delivers them',
    );
  }
  if (queue) {
    const given = HTTP_ONLY.find((f) => o[f] !== undefined);
    if (given) {
      throw usage(
        `${n(given)} applies to HTTP sends, not to ${n('queue')}: give it to \`bulk-import forward\` (or the Lambda)`,
      );
    }
  }
  if (source.kind !== 'postgres' && o.key !== undefined) {
    throw usage(`${n('key')} needs a PostgreSQL source (NDJSON rows are keyed by their position)`);
  }
  for (const key of ['failed', 'checkpoint', 'summaryJson', 'transform'] as const) {
    const value = o[key];
    if (typeof value === 'string') rule.filePath(n(key), value);
  }
  const auto = autoConcurrency(o, queue !== undefined, n);
  const target = queue ? undefined : parseTarget(o, n);
  const shard = parseShard(o, source, n);
  const noCheckpoint = o.checkpoint === false || o.checkpoint === null;
  if (o.resume && o.restart) throw usage(`${n('resume')} and ${n('restart')} contradict each other`);
  if (o.resume && noCheckpoint) {
    throw usage(`${n('resume')} needs a checkpoint (drop ${n('noCheckpoint')})`);
  }
  if (o.transformTimeout !== undefined && !o.transform) throw usage(`${n('transformTimeout')} needs ${n('transform')}`);
  checkCatchUp(o, source, n);
  const changedColumn = o.changedColumn === undefined ? undefined : checkChangedColumn(o, source, n);
  return Object.freeze({
    source,
    ...(target ? { target } : {}),
    ...(queue ? { queue } : {}),
    ...(o.limit !== undefined ? { limit: rule.wholeNumber(n('limit'), o.limit, 1) } : {}),
    batchSize: rule.wholeNumber(n('batchSize'), o.batchSize ?? IMPORT_DEFAULTS.batchSize, 1, 100_000),
    concurrency: auto
      ? Math.min(IMPORT_DEFAULTS.autoInitialConcurrency, auto.max)
      : rule.wholeNumber(n('concurrency'), o.concurrency ?? IMPORT_DEFAULTS.concurrency, 1, 1024),
    ...(auto ? { autoConcurrency: auto } : {}),
    ...(o.transform ? { transform: { path: o.transform, timeoutMs: transformTimeout(o, n) } } : {}),
    dryRun: o.dryRun === true,
    progress: o.progress !== false,
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint || null } : {}),
    ...shard,
    resume: o.resume === true,
    restart: o.restart === true,
    ...(o.failed !== undefined ? { failed: o.failed || null } : {}),
    ...(o.maxFailures !== undefined ? { maxFailures: rule.maxFailures(n('maxFailures'), o.maxFailures) } : {}),
    ...(o.summaryJson ? { summaryJson: o.summaryJson } : {}),
    ...(changedColumn ? { changedColumn } : {}),
    catchUp: o.catchUp === true,
    catchUpOverlap: catchUpOverlap(o, n),
    catchUpWaitMs: rule.duration(n('catchUpWait'), o.catchUpWait ?? IMPORT_DEFAULTS.catchUpWait),
  });
}

/** Both readings of --catch-up-overlap (see CatchUpOverlap); one of them must hold. */
function catchUpOverlap(o: ImportOptions, n: NameOf): CatchUpOverlap {
  const raw = o.catchUpOverlap;
  if (raw === undefined) {
    return {
      ms: rule.duration(n('catchUpOverlap'), IMPORT_DEFAULTS.catchUpOverlap),
      versions: IMPORT_DEFAULTS.catchUpOverlapVersions,
    };
  }
  const given = String(raw);
  let ms: number | undefined;
  try {
    ms = rule.duration(n('catchUpOverlap'), raw);
  } catch {
    ms = undefined;
  }
  const versions = /^\s*\d{1,15}\s*$/.test(given) ? Number(given) : undefined;
  if (ms === undefined && versions === undefined) {
    throw usage(
      `${n('catchUpOverlap')} must be a duration like 1m (a timestamp column) or a whole number of versions (a bigint column) (got ${JSON.stringify(given)})`,
    );
  }
  return { given, ...(ms !== undefined ? { ms } : {}), ...(versions !== undefined ? { versions } : {}) };
}

function checkChangedColumn(o: ImportOptions, source: SourceConfig, n: NameOf): string {
  if (source.kind !== 'postgres') throw usage(`${n('changedColumn')} needs a PostgreSQL source`);
  const parts = parseQualifiedName(o.changedColumn ?? '', n('changedColumn'));
  if (parts.length !== 1) throw usage(`${n('changedColumn')} takes one column name without a table`);
  return parts[0] as string;
}

/** --catch-up runs from a complete copy's checkpoint; the flags that would contradict it are refused. */
function checkCatchUp(o: ImportOptions, source: SourceConfig, n: NameOf): void {
  if (!o.catchUp) {
    for (const f of ['catchUpOverlap', 'catchUpWait'] as const) {
      if (o[f] !== undefined && o.changedColumn === undefined)
        throw usage(`${n(f)} needs ${n('changedColumn')} or ${n('catchUp')}`);
    }
    return;
  }
  if (source.kind !== 'postgres') throw usage(`${n('catchUp')} needs a PostgreSQL source`);
  if (typeof o.checkpoint !== 'string')
    throw usage(`${n('catchUp')} needs ${n('checkpoint')} (the copy's checkpoint file)`);
  for (const f of ['resume', 'restart', 'dryRun', 'limit'] as const) {
    if (o[f] !== undefined && o[f] !== false) throw usage(`${n(f)} does not go with ${n('catchUp')}`);
  }
}

/** `concurrency: 'auto'` (direct mode only) and its ceiling; undefined for a fixed concurrency. */
function autoConcurrency(o: ImportOptions, queue: boolean, n: NameOf): { max: number } | undefined {
  const auto = typeof o.concurrency === 'string' && o.concurrency.trim().toLowerCase() === 'auto';
  if (!auto) {
    if (o.maxConcurrency !== undefined) throw usage(`${n('maxConcurrency')} needs ${n('concurrency')} auto`);
    return undefined;
  }
  if (queue) throw usage(`${n('concurrency')} auto is for direct mode; ${n('queue')} takes a number`);
  return { max: rule.wholeNumber(n('maxConcurrency'), o.maxConcurrency ?? IMPORT_DEFAULTS.maxConcurrency, 1, 1024) };
}

function transformTimeout(o: ImportOptions, n: NameOf): number {
  return rule.duration(n('transformTimeout'), o.transformTimeout ?? IMPORT_DEFAULTS.transformTimeout);
}
