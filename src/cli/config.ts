import type { StickyMode } from '../http/cookie-lanes.js';
import type { HttpClientConfig } from '../http/sticky-client.js';
import { DEFAULT_RETRY_POLICY } from '../http/retry-policy.js';
import { usage } from '../errors.js';
import type { MaxFailures } from '../pipeline.js';
import { parseKeyColumns, parseQualifiedName } from '../source/sql.js';
import { DEFAULT_MAX_LINE_BYTES } from '../source/ndjson-line.js';
import type { TransformSpec } from '../transform.js';
import { checkSqlFragment } from '../source/sql-fragment.js';
import * as v from './parse-values.js';
import { parseQueueConfig, type QueueConfig, type QueueFlags } from './queue-options.js';

/** Defaults live here, next to their checks, and nowhere else. */
export const DEFAULTS = {
  key: 'id',
  method: 'POST',
  batchSize: 100,
  concurrency: 16,
  sticky: 'lane' as StickyMode,
  retries: DEFAULT_RETRY_POLICY.retries,
  timeout: '30s',
  pageRows: 2000,
  transformTimeout: '30s',
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  statementTimeout: '5m',
} as const;

/** A JS string holds at most 2^29 − 24 UTF-16 units (V8): a longer line could never be a row. */
const MAX_LINE_BYTES_LIMIT = 2 ** 29 - 24;

export type SourceConfig =
  | {
      kind: 'postgres';
      url: string;
      table?: string;
      query?: string;
      key: string[];
      where?: string;
      pageRows: number;
      /** Bounds each statement: a page read, the probe, the count. */
      statementTimeoutMs: number;
    }
  | { kind: 'ndjson'; path: string; maxLineBytes: number }
  | { kind: 'failed-rows'; path: string };

/** Direct mode's HTTP target: exactly what the sticky client takes. */
export type TargetConfig = HttpClientConfig;

export interface RunConfig {
  readonly source: SourceConfig;
  /** Direct mode's API; absent in queue mode. */
  readonly target?: TargetConfig;
  /** Queue mode (--queue): rows go to SQS, and `forward` or the Lambda delivers them. */
  readonly queue?: QueueConfig;
  readonly limit?: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly transform?: TransformSpec;
  readonly dryRun: boolean;
  readonly progress: boolean;
  /** A path; undefined = the default path for this job; null = --no-checkpoint. */
  readonly checkpoint?: string | null;
  readonly resume: boolean;
  readonly restart: boolean;
  /** A path; undefined = the default path for this job; null = none (library use: failures only counted). */
  readonly failed?: string | null;
  readonly maxFailures?: MaxFailures;
  readonly summaryJson?: string;
}

/** The HTTP target's raw flags, shared by run, replay and forward. */
export interface TargetFlags {
  to?: string;
  method?: string;
  header?: string[];
  batchSize?: string;
  concurrency?: string;
  sticky?: string;
  retries?: string;
  timeout?: string;
  rate?: string;
  targetHeader?: string;
  maxBodyBytes?: string;
}

/** The raw flags as commander hands them over (strings, booleans, repeatables). */
export interface RunFlags extends QueueFlags, TargetFlags {
  from?: string;
  table?: string;
  query?: string;
  key?: string;
  where?: string;
  limit?: string;
  transform?: string;
  transformTimeout?: string;
  maxLineBytes?: string;
  dryRun?: boolean;
  progress?: boolean;
  checkpoint?: string | false;
  resume?: boolean;
  restart?: boolean;
  failed?: string | false;
  maxFailures?: string;
  summaryJson?: string;
  pageRows?: string;
  statementTimeout?: string;
}

export function flagName(key: string): string {
  return key === 'header' ? '-H/--header' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function parseSource(flags: RunFlags, env: NodeJS.ProcessEnv): SourceConfig {
  const from = flags.from ?? env.DATABASE_URL;
  if (!from) throw usage('--from is required (a postgres:// URL, an .ndjson file or -), or set DATABASE_URL');
  if (/^postgres(ql)?:\/\//i.test(from)) {
    if (!flags.table === !flags.query) throw usage('give exactly one of --table and --query with a PostgreSQL source');
    if (flags.table) parseQualifiedName(flags.table);
    if (flags.query && !/^\s*(select|with|values|table)\b/i.test(flags.query)) throw usage('--query must be a SELECT (it is paged by --key)');
    if (flags.maxLineBytes !== undefined) throw usage('--max-line-bytes applies to an NDJSON source only');
    const query = flags.query?.trim().replace(/;\s*$/, '');
    if (query) checkSqlFragment('--query', query);
    if (flags.where) checkSqlFragment('--where', flags.where);
    return {
      kind: 'postgres',
      url: from,
      ...(flags.table ? { table: flags.table } : {}),
      ...(query ? { query } : {}),
      key: parseKeyColumns(flags.key ?? DEFAULTS.key),
      ...(flags.where ? { where: flags.where } : {}),
      pageRows: flags.pageRows ? v.wholeNumber('--page-rows', flags.pageRows, 1, 1_000_000) : DEFAULTS.pageRows,
      statementTimeoutMs: v.duration('--statement-timeout', flags.statementTimeout ?? DEFAULTS.statementTimeout),
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) throw usage(`--from must be a postgres:// URL, an NDJSON file or - (got a ${from.split(':')[0]}: URL)`);
  if (flags.table || flags.query || flags.where) throw usage('--table, --query and --where need a PostgreSQL source in --from');
  if (flags.statementTimeout !== undefined) throw usage('--statement-timeout needs a PostgreSQL source in --from');
  const maxLineBytes =
    flags.maxLineBytes === undefined ? DEFAULTS.maxLineBytes : v.wholeNumber('--max-line-bytes', flags.maxLineBytes, 1, MAX_LINE_BYTES_LIMIT);
  return { kind: 'ndjson', path: from, maxLineBytes };
}

export function parseTarget(flags: TargetFlags, defaults: { retries: number; timeout: string } = DEFAULTS): TargetConfig {
  if (!flags.to) throw usage('--to is required: the API endpoint rows are sent to (or --queue for queue mode)');
  const retries = flags.retries === undefined ? defaults.retries : v.wholeNumber('--retries', flags.retries, 0, 100);
  const method = (flags.method ?? DEFAULTS.method).toUpperCase();
  if (!['POST', 'PUT', 'PATCH'].includes(method)) throw usage(`--method must be POST, PUT or PATCH (got ${JSON.stringify(flags.method)})`);
  return {
    url: v.httpUrl('--to', flags.to),
    method,
    headers: v.headers(flags.header ?? []),
    sticky: v.oneOf('--sticky', flags.sticky ?? DEFAULTS.sticky, ['lane', 'shared', 'off'] as const),
    timeoutMs: v.duration('--timeout', flags.timeout ?? defaults.timeout),
    retry: { ...DEFAULT_RETRY_POLICY, retries },
    ...(flags.rate ? { rate: v.positiveNumber('--rate', flags.rate) } : {}),
    ...(flags.targetHeader ? { targetHeader: flags.targetHeader.toLowerCase() } : {}),
    // No default: limits range from 100 KB (Express) to 10 MB (API Gateway), and a 413 splits anyway.
    ...(flags.maxBodyBytes ? { maxBodyBytes: v.wholeNumber('--max-body-bytes', flags.maxBodyBytes, 16) } : {}),
  };
}

/** Flags of direct mode's HTTP client: in queue mode `forward` (or the Lambda) takes them instead. */
const HTTP_ONLY: readonly (keyof RunFlags)[] = ['header', 'method', 'sticky', 'timeout', 'rate', 'targetHeader'];

/** `--failed ''` (an unset shell variable) must not quietly mean "record failures nowhere". */
function pathFlag(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.trim() === '') throw usage(`${flag} needs a file path (got an empty value: an unset variable?)`);
  return value;
}

function transformTimeout(flags: RunFlags): number {
  return v.duration('--transform-timeout', flags.transformTimeout ?? DEFAULTS.transformTimeout);
}

export function parseRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv): RunConfig {
  const source = parseSource(flags, env);
  const queue = parseQueueConfig(flags, env);
  if (queue && flags.to) throw usage('--to and --queue do not go together: queue mode enqueues rows; `bulk-import forward --to …` delivers them');
  if (queue) {
    const given = HTTP_ONLY.find((f) => flags[f] !== undefined);
    if (given) throw usage(`${flagName(given)} applies to HTTP sends, not to --queue: give it to \`bulk-import forward\` (or the Lambda)`);
  }
  if (source.kind !== 'postgres' && flags.key !== undefined) throw usage('--key needs a PostgreSQL source (NDJSON rows are keyed by their position)');
  for (const [flag, value] of [['--failed', flags.failed], ['--checkpoint', flags.checkpoint], ['--summary-json', flags.summaryJson], ['--transform', flags.transform]] as const) {
    pathFlag(flag, value === false ? undefined : value);
  }
  const target = queue ? undefined : parseTarget(flags);
  if (flags.resume && flags.restart) throw usage('--resume and --restart contradict each other');
  if (flags.resume && flags.checkpoint === false) throw usage('--resume needs a checkpoint (drop --no-checkpoint)');
  if (flags.transformTimeout !== undefined && !flags.transform) throw usage('--transform-timeout needs --transform');
  return Object.freeze({
    source,
    ...(target ? { target } : {}),
    ...(queue ? { queue } : {}),
    ...(flags.limit !== undefined ? { limit: v.wholeNumber('--limit', flags.limit, 1) } : {}),
    batchSize: flags.batchSize === undefined ? DEFAULTS.batchSize : v.wholeNumber('--batch-size', flags.batchSize, 1, 100_000),
    concurrency: flags.concurrency === undefined ? DEFAULTS.concurrency : v.wholeNumber('--concurrency', flags.concurrency, 1, 1024),
    ...(flags.transform ? { transform: { path: flags.transform, timeoutMs: transformTimeout(flags) } } : {}),
    dryRun: flags.dryRun === true,
    progress: flags.progress !== false,
    ...(flags.checkpoint !== undefined ? { checkpoint: flags.checkpoint || null } : {}),
    resume: flags.resume === true,
    restart: flags.restart === true,
    ...(flags.failed !== undefined ? { failed: flags.failed || null } : {}),
    ...(flags.maxFailures !== undefined ? { maxFailures: v.maxFailures(flags.maxFailures) } : {}),
    ...(flags.summaryJson ? { summaryJson: flags.summaryJson } : {}),
  });
}
