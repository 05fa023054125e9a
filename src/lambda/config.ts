import { BulkImportError } from '../errors.js';
import { parseForwarder, type ForwarderConfig, type SecretRef } from '../config/forward-config.js';
import { FORWARDER_DEFAULTS } from '../config/defaults.js';
import type { NameOf } from '../config/names.js';
import * as rule from '../config/rules.js';
import { checkQueueUrl } from '../queue/sqs-endpoint.js';

export type { ForwarderConfig, SecretRef };

type Env = Readonly<Record<string, string | undefined>>;

/** The variable that sets each forwarder option: messages name it, as the CLI names its flags. */
const VARIABLES: Record<string, string> = {
  to: 'TARGET_URL',
  method: 'METHOD',
  header: 'HEADERS',
  sticky: 'STICKY',
  timeout: 'TIMEOUT_MS',
  retries: 'RETRIES',
  batchSize: 'BATCH_SIZE',
  concurrency: 'CONCURRENCY',
  maxConcurrency: 'MAX_CONCURRENCY',
  targetHeader: 'TARGET_HEADER',
  restickAfter: 'RESTICK_AFTER',
};
const variableName: NameOf = (key) => VARIABLES[key] ?? key;

const config = (message: string) => new BulkImportError('CONFIG', message);

/**
 * The Lambda function's configuration from its environment, checked once per container with
 * the rules and defaults the CLI uses (src/config/): TARGET_URL, METHOD, HEADERS (a JSON object)
 * and HEADER_<NAME> (X_API_KEY → x-api-key), HEADER_SECRETS (JSON: header → "ssm:/path" |
 * "secretsmanager:name"), BATCH_SIZE, CONCURRENCY (a number, or auto), MAX_CONCURRENCY, TIMEOUT_MS,
 * RETRIES, STICKY (lane | shared | off), SAFETY_MS, REJECTS_QUEUE_URL, TARGET_HEADER (a response
 * header naming the instance that answered) and RESTICK_AFTER (`5m`, `90s`, or `off`: how long a
 * lane keeps its target before asking the balancer again, as `forward --restick-after`). An empty
 * variable counts as unset. Failures are CONFIG errors.
 *
 * MAX_CONCURRENCY is the ceiling of CONCURRENCY=auto. With a fixed CONCURRENCY it is still checked
 * (a typo should not wait for the day someone switches to auto) but not used: the template sets
 * both variables whatever ApiConcurrency is, and CloudFormation has no neat way to leave one out.
 */
export function parseForwarderEnv(env: Env): ForwarderConfig {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  return rule.asConfigErrors(() => {
    const to = get('TARGET_URL');
    if (!to) throw config('TARGET_URL is not set: the API endpoint rows are forwarded to');
    const timeout = get('TIMEOUT_MS');
    const concurrency = get('CONCURRENCY');
    const maxConcurrency = get('MAX_CONCURRENCY');
    if (maxConcurrency !== undefined && !rule.isAuto(concurrency))
      rule.wholeNumber('MAX_CONCURRENCY', maxConcurrency, 1, 1024);
    const forwarder = parseForwarder(
      {
        to,
        header: headersOf(env),
        ...optional('method', get('METHOD')),
        ...optional('sticky', get('STICKY')),
        // TIMEOUT_MS is whole milliseconds; the shared duration rule would read a bare text number as seconds.
        ...optional('timeout', timeout === undefined ? undefined : rule.wholeNumber('TIMEOUT_MS', timeout, 1, 900_000)),
        ...optional('retries', get('RETRIES')),
        ...optional('batchSize', get('BATCH_SIZE')),
        ...optional('concurrency', concurrency),
        ...optional('maxConcurrency', rule.isAuto(concurrency) ? maxConcurrency : undefined),
        ...optional('targetHeader', get('TARGET_HEADER')),
        ...optional('restickAfter', get('RESTICK_AFTER')),
      },
      variableName,
      {
        safetyMs: rule.wholeNumber('SAFETY_MS', get('SAFETY_MS') ?? FORWARDER_DEFAULTS.safetyMs, 0, 60_000),
        secretHeaders: parseSecretHeaders(get('HEADER_SECRETS')),
      },
    );
    const rejects = get('REJECTS_QUEUE_URL');
    const rejectsQueueUrl = rejects ? checkQueueUrl('REJECTS_QUEUE_URL', rejects) : undefined;
    return Object.freeze({ ...forwarder, ...(rejectsQueueUrl ? { rejectsQueueUrl } : {}) });
  });
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** HEADERS (a JSON object), then HEADER_<NAME> variables over it. */
function headersOf(env: Env): Record<string, string> {
  const headers: Record<string, string> = {};
  if (env.HEADERS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.HEADERS);
    } catch {
      throw config('HEADERS must be a JSON object of header names to values');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw config('HEADERS must be a JSON object of header names to values');
    }
    Object.assign(headers, rule.headerMap('HEADERS', parsed as Record<string, unknown>));
  }
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('HEADER_') || k === 'HEADER_SECRETS' || v === undefined) continue;
    const name = rule.headerName(k, k.slice(7).toLowerCase().replaceAll('_', '-'));
    headers[name] = rule.headerValue(k, name, v);
  }
  return headers;
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw config('HEADER_SECRETS must be a JSON object');
  }
  const out: Record<string, SecretRef> = {};
  for (const [header, ref] of Object.entries(parsed)) {
    const m = typeof ref === 'string' ? /^(ssm|secretsmanager):(.+)$/.exec(ref) : null;
    if (!m) {
      throw config(
        `HEADER_SECRETS: ${header} must be "ssm:/name" or "secretsmanager:name" (got ${JSON.stringify(ref)})`,
      );
    }
    const name = rule.asConfigErrors(() => rule.headerName('HEADER_SECRETS', header));
    out[name] = { store: m[1] as 'ssm' | 'secretsmanager', name: m[2] as string };
  }
  return out;
}
