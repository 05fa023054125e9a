import { usage } from '../errors.js';
import type { StickyMode } from '../http/cookie-lanes.js';
import { redactUrl } from '../redact.js';
import { PROBE_DEFAULTS } from './defaults.js';
import { buildImportConfig, type RunConfig } from './import-config.js';
import { optionName, type NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count, Duration } from './rules.js';
import type { SourceOptions } from './source-config.js';

/**
 * `probe`: what it measures with, checked. Its rows are read as `run` reads them (the same
 * source, key, batch cuts and job id, hence the same idempotency keys), but it writes no
 * checkpoint and no failed file, and does not retry: the later run sends every row anyway.
 */
export interface ProbeConfig {
  /** The run being tuned: source, target, first batch size, transform. No checkpoint, no retries. */
  readonly run: RunConfig;
  /** Swept in this order; the first one's rows carry the keys a later run at that size sends. */
  readonly batchSizes: readonly number[];
  /** 1, 2, 4, … up to --max-concurrency (included). */
  readonly concurrencies: readonly number[];
  readonly stickyModes: readonly StickyMode[];
  /** Real rows it may read and send in all. */
  readonly rows: number;
  readonly stepMs: number;
  readonly maxTimeMs: number;
  readonly dryRun: boolean;
  /** Why it may send: the user said --yes, or --to is a loopback test endpoint (absent on --dry-run). */
  readonly consent?: 'yes' | 'test endpoint';
}

/** probe's options, named as its flags in camelCase (the library's `probeConfig` takes the same). */
export interface ProbeOptions extends SourceOptions {
  to?: string;
  method?: string;
  header?: readonly string[] | Readonly<Record<string, string>>;
  batchSize?: Count;
  /** Several batch sizes to sweep, e.g. `1,10,100`. */
  batchSizes?: string | readonly Count[];
  /** The sticky modes to compare, e.g. `lane,off` (the default). */
  sticky?: string;
  timeout?: Duration;
  targetHeader?: string;
  maxBodyBytes?: Count;
  transform?: string;
  transformTimeout?: Duration;
  rows?: Count;
  maxConcurrency?: Count;
  stepTime?: Duration;
  maxTime?: Duration;
  dryRun?: boolean;
  /** The rows are real: sending them needs this unless --to is a loopback test endpoint. */
  yes?: boolean;
  /** `run`'s flags that probe decides itself: refused with a word on why. */
  concurrency?: unknown;
  limit?: unknown;
}

/** The library's way to a ProbeConfig: the CLI's checks and defaults, messages naming the options. */
export function probeConfig(options: ProbeOptions, env: NodeJS.ProcessEnv = process.env): ProbeConfig {
  return buildProbeConfig(options, env, optionName);
}

export function buildProbeConfig(o: ProbeOptions, env: NodeJS.ProcessEnv, n: NameOf): ProbeConfig {
  if (o.concurrency !== undefined)
    throw usage(`probe tries concurrency 1, 2, 4… itself: drop ${n('concurrency')} (${n('maxConcurrency')} caps it)`);
  if (o.limit !== undefined) throw usage(`probe takes ${n('rows')}, not ${n('limit')}`);
  if (o.batchSize !== undefined && o.batchSizes !== undefined)
    throw usage(`give ${n('batchSize')} or ${n('batchSizes')}, not both`);
  const batchSizes =
    o.batchSizes === undefined
      ? undefined
      : list(o.batchSizes).map((b) => rule.wholeNumber(n('batchSizes'), b, 1, 100_000));
  if (batchSizes?.length === 0) throw usage(`${n('batchSizes')} needs at least one size (e.g. 1,10,100)`);
  if (batchSizes && new Set(batchSizes).size !== batchSizes.length)
    throw usage(`${n('batchSizes')} names a size twice (got ${JSON.stringify(String(o.batchSizes))})`);
  const run = buildImportConfig(
    {
      ...sourceOptions(o),
      ...(o.to !== undefined ? { to: o.to } : {}),
      ...(o.method !== undefined ? { method: o.method } : {}),
      ...(o.header !== undefined ? { header: o.header } : {}),
      ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
      ...(o.targetHeader !== undefined ? { targetHeader: o.targetHeader } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
      ...(o.transform !== undefined ? { transform: o.transform } : {}),
      ...(o.transformTimeout !== undefined ? { transformTimeout: o.transformTimeout } : {}),
      ...(batchSizes
        ? { batchSize: batchSizes[0] as number }
        : o.batchSize !== undefined
          ? { batchSize: o.batchSize }
          : {}),
      retries: 0,
      checkpoint: false,
      failed: false,
      dryRun: o.dryRun === true,
    },
    env,
    n,
  );
  const target = run.target;
  if (!target) throw usage(`${n('to')} is required: the API endpoint probe sends rows to`);
  const stickyModes = list(o.sticky ?? PROBE_DEFAULTS.sticky).map((m) => rule.stickyMode(n('sticky'), String(m)));
  if (stickyModes.length === 0 || new Set(stickyModes).size !== stickyModes.length)
    throw usage(`${n('sticky')} takes distinct modes, e.g. lane,off (got ${JSON.stringify(String(o.sticky))})`);
  const max = rule.wholeNumber(n('maxConcurrency'), o.maxConcurrency ?? PROBE_DEFAULTS.maxConcurrency, 1, 1024);
  const dryRun = o.dryRun === true;
  const testEndpoint = isLoopbackUrl(target.url);
  if (!dryRun && o.yes !== true && !testEndpoint) {
    // Checked before anything connects: a refusal has sent nothing and read nothing.
    throw usage(
      `probe sends real rows to ${redactUrl(target.url)}: add ${n('yes')} to send them, ` +
        `${n('dryRun')} to send nothing, or point ${n('to')} at a loopback test endpoint (localhost, 127.x.x.x, [::1])`,
    );
  }
  return Object.freeze({
    run,
    batchSizes: batchSizes ?? [run.batchSize],
    concurrencies: doublingUpTo(max),
    stickyModes,
    rows: rule.wholeNumber(n('rows'), o.rows ?? PROBE_DEFAULTS.rows, 1),
    stepMs: rule.duration(n('stepTime'), o.stepTime ?? PROBE_DEFAULTS.stepTime),
    maxTimeMs: rule.duration(n('maxTime'), o.maxTime ?? PROBE_DEFAULTS.maxTime),
    dryRun,
    ...(dryRun ? {} : { consent: o.yes === true ? ('yes' as const) : ('test endpoint' as const) }),
  });
}

/**
 * A "distinct test URL": --to on a loopback host, which can only be this machine (a local
 * server, a container's published port). A tunnel from localhost to production counts too:
 * that is the user's own doing, and the README says so.
 */
export function isLoopbackUrl(raw: string): boolean {
  let host: string;
  try {
    host = new URL(raw).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host === 'localhost' || host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** 1, 2, 4, … below max, then max itself. */
export function doublingUpTo(max: number): number[] {
  const out: number[] = [];
  for (let c = 1; c < max; c *= 2) out.push(c);
  out.push(max);
  return out;
}

function list(raw: string | readonly Count[]): (string | number)[] {
  if (typeof raw !== 'string') return [...raw];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function sourceOptions(o: ProbeOptions): SourceOptions {
  const keys = ['from', 'table', 'query', 'key', 'where', 'maxLineBytes', 'pageRows', 'statementTimeout'] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out as SourceOptions;
}
