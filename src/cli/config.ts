import type { StickyMode } from '../http/cookie-lanes.js';
import type { HttpClientConfig } from '../http/sticky-client.js';
import { DEFAULT_RETRY_POLICY } from '../http/retry-policy.js';
import { usage } from '../errors.js';
import type { MaxFailures } from '../pipeline.js';
import { parseKeyColumns, parseQualifiedName } from '../source/sql.js';
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
} as const;

export type SourceConfig =
  | { kind: 'postgres'; url: string; table?: string; query?: string; key: string[]; where?: string; pageRows: number }
  | { kind: 'ndjson'; path: string }
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
  readonly transform?: string;
  readonly dryRun: boolean;
  readonly progress: boolean;
  /** A path; undefined = the default path for this job; null = --no-checkpoint. */
  readonly checkpoint?: string | null;
  readonly resume: boolean;
  readonly restart: boolean;
  /** A path; undefined = the default path for this job; null = --no-failed (failures only counted). */
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
  dryRun?: boolean;
  progress?: boolean;
  checkpoint?: string | false;
  resume?: boolean;
  restart?: boolean;
  failed?: string | false;
  maxFailures?: string;
  summaryJson?: string;
  pageRows?: string;
}

export function parseSource(flags: RunFlags, env: NodeJS.ProcessEnv): SourceConfig {
  const from = flags.from ?? env.DATABASE_URL;
  if (!from) throw usage('--from is required (a postgres:// URL, an .ndjson file or -), or set DATABASE_URL');
  if (/^postgres(ql)?:\/\//i.test(from)) {
    if (!flags.table === !flags.query) throw usage('give exactly one of --table and --query with a PostgreSQL source');
    if (flags.table) parseQualifiedName(flags.table);
    if (flags.query && !/^\s*(select|with|values|table)\b/i.test(flags.query)) throw usage('--query must be a SELECT (it is paged by --key)');
    return {
      kind: 'postgres',
      url: from,
      ...(flags.table ? { table: flags.table } : {}),
      ...(flags.query ? { query: flags.query.trim().replace(/;\s*$/, '') } : {}),
      key: parseKeyColumns(flags.key ?? DEFAULTS.key),
      ...(flags.where ? { where: flags.where } : {}),
      pageRows: flags.pageRows ? v.wholeNumber('--page-rows', flags.pageRows, 1, 1_000_000) : DEFAULTS.pageRows,
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) throw usage(`--from must be a postgres:// URL, an NDJSON file or - (got a ${from.split(':')[0]}: URL)`);
  if (flags.table || flags.query || flags.where) throw usage('--table, --query and --where need a PostgreSQL source in --from');
  return { kind: 'ndjson', path: from };
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

export function parseRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv): RunConfig {
  const source = parseSource(flags, env);
  const queue = parseQueueConfig(flags, env);
  if (queue && flags.to) throw usage('--to and --queue do not go together: queue mode enqueues rows; `bulk-import forward --to …` delivers them');
  const target = queue ? undefined : parseTarget(flags);
  if (flags.resume && flags.restart) throw usage('--resume and --restart contradict each other');
  if (flags.resume && flags.checkpoint === false) throw usage('--resume needs a checkpoint (drop --no-checkpoint)');
  return Object.freeze({
    source,
    ...(target ? { target } : {}),
    ...(queue ? { queue } : {}),
    ...(flags.limit !== undefined ? { limit: v.wholeNumber('--limit', flags.limit, 1) } : {}),
    batchSize: flags.batchSize === undefined ? DEFAULTS.batchSize : v.wholeNumber('--batch-size', flags.batchSize, 1, 100_000),
    concurrency: flags.concurrency === undefined ? DEFAULTS.concurrency : v.wholeNumber('--concurrency', flags.concurrency, 1, 1024),
    ...(flags.transform ? { transform: flags.transform } : {}),
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
