import { usage } from '../errors.js';
import type { HttpClientConfig } from '../http/sticky-client.js';
import { DEFAULT_RETRY_POLICY, IMPORT_DEFAULTS } from './defaults.js';
import type { NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count, Duration } from './rules.js';

/** Direct mode's HTTP target: exactly what the sticky client takes. */
export type TargetConfig = HttpClientConfig;

/** The HTTP target's options, shared by run, replay and forward (and the Lambda's variables). */
export interface TargetOptions {
  /** The API endpoint each batch is sent to. */
  to?: string;
  method?: string;
  /** `["Name: value", …]` as the CLI's -H takes them, or a `{ name: value }` object. */
  header?: readonly string[] | Readonly<Record<string, string>>;
  batchSize?: Count;
  concurrency?: Count;
  sticky?: string;
  retries?: Count;
  timeout?: Duration;
  rate?: Count;
  targetHeader?: string;
  /** `--sticky lane`: re-place a lane after it held its target this long; `0` or `off` for never. */
  restickAfter?: Duration;
  /** Bodies larger than this are cut into pieces before sending; a larger single row is a failed row. */
  maxBodyBytes?: Count;
}

export interface TargetDefaults {
  readonly method: string;
  readonly sticky: string;
  readonly retries: number;
  readonly timeout: Duration;
}

export function parseTarget(o: TargetOptions, n: NameOf, d: TargetDefaults = IMPORT_DEFAULTS): TargetConfig {
  if (!o.to) throw usage(`${n('to')} is required: the API endpoint rows are sent to (or ${n('queue')} for queue mode)`);
  const retries = o.retries === undefined ? d.retries : rule.wholeNumber(n('retries'), o.retries, 0, 100);
  const header = o.header ?? [];
  return {
    url: rule.httpUrl(n('to'), o.to),
    method: rule.method(n('method'), o.method ?? d.method),
    headers: isLines(header) ? rule.headerLines(n('header'), header) : rule.headerMap(n('header'), header),
    sticky: rule.stickyMode(n('sticky'), o.sticky ?? d.sticky),
    timeoutMs: rule.duration(n('timeout'), o.timeout ?? d.timeout),
    retry: { ...DEFAULT_RETRY_POLICY, retries },
    ...(o.rate !== undefined && o.rate !== '' ? { rate: rule.positiveNumber(n('rate'), o.rate) } : {}),
    ...(o.targetHeader ? { targetHeader: rule.headerName(n('targetHeader'), o.targetHeader).toLowerCase() } : {}),
    restickAfterMs: rule.durationOrOff(n('restickAfter'), o.restickAfter ?? IMPORT_DEFAULTS.restickAfter),
    // No default: limits range from 100 KB (Express) to 10 MB (API Gateway), and a 413 splits anyway.
    ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: rule.wholeNumber(n('maxBodyBytes'), o.maxBodyBytes, 16) } : {}),
  };
}

function isLines(h: readonly string[] | Readonly<Record<string, string>>): h is readonly string[] {
  return Array.isArray(h);
}
