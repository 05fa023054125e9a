import { BulkImportError } from '../errors.js';
import type { StickyMode } from '../http/cookie-lanes.js';
import { DEFAULT_RETRY_POLICY } from '../http/retry-policy.js';
import type { HttpClientConfig } from '../http/sticky-client.js';
import { checkQueueUrl } from '../queue/sqs-endpoint.js';
import { redactUrl } from '../redact.js';

/** Where a header's value lives when it is a secret: fetched once per container, never in the bundle. */
export type SecretRef = { readonly store: 'ssm'; readonly name: string } | { readonly store: 'secretsmanager'; readonly name: string };

export interface ForwarderConfig {
  readonly target: HttpClientConfig;
  readonly batchSize: number;
  readonly concurrency: number;
  /** Time kept back from the deadline to answer the invocation. */
  readonly safetyMs: number;
  /** Header name → secret to fetch; merged over target.headers at start-up. */
  readonly secretHeaders: Readonly<Record<string, SecretRef>>;
  /** Where rows the API refuses one by one go; without it their message stays for the DLQ. */
  readonly rejectsQueueUrl?: string;
}

/** Defaults of the forwarder, next to their checks. */
export const FORWARDER_DEFAULTS = {
  method: 'POST',
  batchSize: 100,
  concurrency: 8,
  timeoutMs: 10_000,
  retries: 2,
  sticky: 'lane' as StickyMode,
  safetyMs: 1500,
  /** A retry inside one invocation waits at most this long; SQS redelivery is the longer retry. */
  maxRetryDelayMs: 5000,
} as const;

const config = (message: string) => new BulkImportError('CONFIG', message);

/**
 * The Lambda function's configuration from its environment, checked once per container:
 * TARGET_URL, METHOD, HEADERS (a JSON object) and HEADER_<NAME> (X_API_KEY → x-api-key),
 * HEADER_SECRETS (JSON: header → "ssm:/path" | "secretsmanager:name"), BATCH_SIZE, CONCURRENCY,
 * TIMEOUT_MS, RETRIES, STICKY (lane | shared | off), SAFETY_MS, REJECTS_QUEUE_URL.
 */
export function parseForwarderEnv(env: Readonly<Record<string, string | undefined>>): ForwarderConfig {
  const url = env.TARGET_URL;
  if (!url) throw config('TARGET_URL is not set: the API endpoint rows are forwarded to');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw config(`TARGET_URL must be an http(s) URL (got ${JSON.stringify(redactUrl(url).slice(0, 80))})`);
  }
  const headers: Record<string, string> = {};
  if (env.HEADERS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.HEADERS);
    } catch {
      throw config('HEADERS must be a JSON object of header names to values');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw config('HEADERS must be a JSON object of header names to values');
    for (const [k, v] of Object.entries(parsed)) headers[headerName('HEADERS', k)] = String(v);
  }
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('HEADER_') && k !== 'HEADER_SECRETS' && v !== undefined) headers[headerName(k, k.slice(7).toLowerCase().replaceAll('_', '-'))] = v;
  }
  const sticky = (env.STICKY ?? FORWARDER_DEFAULTS.sticky) as StickyMode;
  if (sticky !== 'lane' && sticky !== 'shared' && sticky !== 'off') throw config(`STICKY must be lane, shared or off (got ${JSON.stringify(sticky)})`);
  const method = (env.METHOD ?? FORWARDER_DEFAULTS.method).toUpperCase();
  if (!['POST', 'PUT', 'PATCH'].includes(method)) throw config(`METHOD must be POST, PUT or PATCH (got ${JSON.stringify(env.METHOD)})`);
  return Object.freeze({
    target: {
      url,
      method,
      headers,
      sticky,
      timeoutMs: whole(env, 'TIMEOUT_MS', FORWARDER_DEFAULTS.timeoutMs, 1, 900_000),
      retry: { ...DEFAULT_RETRY_POLICY, retries: whole(env, 'RETRIES', FORWARDER_DEFAULTS.retries, 0, 100), maxDelayMs: FORWARDER_DEFAULTS.maxRetryDelayMs },
    },
    batchSize: whole(env, 'BATCH_SIZE', FORWARDER_DEFAULTS.batchSize, 1, 100_000),
    concurrency: whole(env, 'CONCURRENCY', FORWARDER_DEFAULTS.concurrency, 1, 1024),
    safetyMs: whole(env, 'SAFETY_MS', FORWARDER_DEFAULTS.safetyMs, 0, 60_000),
    secretHeaders: parseSecretHeaders(env.HEADER_SECRETS),
    ...(env.REJECTS_QUEUE_URL ? { rejectsQueueUrl: checkQueueUrl('REJECTS_QUEUE_URL', env.REJECTS_QUEUE_URL) } : {}),
  });
}

/** `{"Authorization":"ssm:/api/token","X-Api-Key":"secretsmanager:prod/api-key"}` → refs. */
export function parseSecretHeaders(raw: string | undefined): Record<string, SecretRef> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw config('HEADER_SECRETS must be a JSON object of header names to "ssm:/name" or "secretsmanager:name"');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw config('HEADER_SECRETS must be a JSON object');
  const out: Record<string, SecretRef> = {};
  for (const [header, ref] of Object.entries(parsed)) {
    const m = typeof ref === 'string' ? /^(ssm|secretsmanager):(.+)$/.exec(ref) : null;
    if (!m) throw config(`HEADER_SECRETS: ${header} must be "ssm:/name" or "secretsmanager:name" (got ${JSON.stringify(ref)})`);
    out[headerName('HEADER_SECRETS', header)] = { store: m[1] as 'ssm' | 'secretsmanager', name: m[2] as string };
  }
  return out;
}

function headerName(where: string, name: string): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw config(`${where}: ${JSON.stringify(name)} is not a valid header name`);
  return name;
}

function whole(env: Readonly<Record<string, string | undefined>>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || n < min || n > max) throw config(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}
