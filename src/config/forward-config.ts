import { usage } from '../errors.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import { FORWARD_DEFAULTS, FORWARDER_DEFAULTS } from './defaults.js';
import { optionName, type NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count } from './rules.js';
import { parseTarget, type TargetConfig, type TargetOptions } from './target-config.js';

/** Where a header's value lives when it is a secret: fetched once per container, never in the bundle. */
export type SecretRef =
  | { readonly store: 'ssm'; readonly name: string }
  | { readonly store: 'secretsmanager'; readonly name: string };

/** One forwarder ("container"): the Lambda function's settings, and each poller's of `forward`. */
export interface ForwarderConfig {
  readonly target: TargetConfig;
  readonly batchSize: number;
  /** Requests in flight per forwarder; with `autoConcurrency`, where its limiter starts. */
  readonly concurrency: number;
  /**
   * `--concurrency auto` / `CONCURRENCY=auto`: the limit follows the API's latency and overload
   * answers, up to `max`, one limiter per forwarder (per poller, per Lambda container).
   */
  readonly autoConcurrency?: { readonly max: number };
  /** Time kept back from the deadline to answer the invocation. */
  readonly safetyMs: number;
  /** Header name → secret to fetch; merged over target.headers at start-up. */
  readonly secretHeaders: Readonly<Record<string, SecretRef>>;
  /** Where rows the API refuses one by one go; without it their message stays for the DLQ. */
  readonly rejectsQueueUrl?: string;
}

/** `forward`: pollers that hand what they receive to forwarders, as the Lambda would. */
export interface ForwardConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly forwarder: ForwarderConfig;
  readonly pollers: number;
  readonly visibilitySeconds?: number;
  readonly untilEmpty: boolean;
  /** Where rows the API refuses one by one go; without it their message stays on the queue. */
  readonly rejectsQueueUrl?: string;
}

/** The forwarder's options: the HTTP target's, and the ceiling of `concurrency: 'auto'`. */
export interface ForwarderOptions extends TargetOptions {
  /** With concurrency 'auto': the most requests in flight per forwarder (per poller). */
  maxConcurrency?: Count;
}

export interface ForwardOptions extends ForwarderOptions {
  /** The SQS queue to poll. */
  queue?: string;
  sqsEndpoint?: string;
  pollers?: Count;
  /** Seconds received messages stay hidden (default: the queue's setting). */
  visibilityTimeout?: Count;
  /** End once the queue stays empty (otherwise run until the signal aborts). */
  untilEmpty?: boolean;
  rejectsQueue?: string;
}

/** The forwarder's HTTP defaults, as parseTarget takes them. */
export const FORWARDER_TARGET_DEFAULTS = {
  method: FORWARDER_DEFAULTS.method,
  sticky: FORWARDER_DEFAULTS.sticky,
  retries: FORWARDER_DEFAULTS.retries,
  timeout: FORWARDER_DEFAULTS.timeoutMs,
} as const;

/** A forwarder's settings from target options, with the forwarder's defaults. */
export function parseForwarder(o: ForwarderOptions, n: NameOf, extra: Partial<ForwarderConfig> = {}): ForwarderConfig {
  const restickAfter = o.restickAfter ?? FORWARDER_DEFAULTS.restickAfter;
  const target = parseTarget({ ...o, restickAfter }, n, FORWARDER_TARGET_DEFAULTS);
  const auto = autoConcurrency(o, n);
  return {
    // A retry inside one poll waits briefly: SQS redelivery is the longer retry.
    target: { ...target, retry: { ...target.retry, maxDelayMs: FORWARDER_DEFAULTS.maxRetryDelayMs } },
    batchSize: rule.wholeNumber(n('batchSize'), o.batchSize ?? FORWARDER_DEFAULTS.batchSize, 1, 100_000),
    concurrency: auto
      ? Math.min(FORWARDER_DEFAULTS.autoInitialConcurrency, auto.max)
      : fixedConcurrency(n('concurrency'), o.concurrency ?? FORWARDER_DEFAULTS.concurrency),
    ...(auto ? { autoConcurrency: auto } : {}),
    safetyMs: FORWARDER_DEFAULTS.safetyMs,
    secretHeaders: {},
    ...extra,
  };
}

/** The library's way to a ForwardConfig: the CLI's checks and defaults, messages naming the options. */
export function forwardConfig(options: ForwardOptions, env: NodeJS.ProcessEnv = process.env): ForwardConfig {
  return buildForwardConfig(options, env, optionName);
}

export function buildForwardConfig(o: ForwardOptions, env: NodeJS.ProcessEnv, n: NameOf): ForwardConfig {
  const queueUrl = checkQueueUrl(n('queue'), o.queue);
  const forwarder = parseForwarder(o, n);
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, o.sqsEndpoint, env),
    forwarder,
    pollers: rule.wholeNumber(n('pollers'), o.pollers ?? FORWARD_DEFAULTS.pollers, 1, 256),
    // At 1 s the forwarder's safety margin (1.5 s) leaves no time to start a request: every
    // message would just come back, with nothing said.
    ...(o.visibilityTimeout !== undefined
      ? { visibilitySeconds: rule.wholeNumber(n('visibilityTimeout'), o.visibilityTimeout, 2, 43_200) }
      : {}),
    untilEmpty: o.untilEmpty === true,
    ...(o.rejectsQueue !== undefined ? { rejectsQueueUrl: rejectsQueueOf(queueUrl, o.rejectsQueue, n) } : {}),
  });
}

/** `concurrency: 'auto'` and its ceiling; undefined for a fixed concurrency. */
function autoConcurrency(o: ForwarderOptions, n: NameOf): { max: number } | undefined {
  if (!rule.isAuto(o.concurrency)) {
    if (o.maxConcurrency !== undefined) throw usage(`${n('maxConcurrency')} needs ${n('concurrency')} auto`);
    return undefined;
  }
  const max = o.maxConcurrency ?? FORWARDER_DEFAULTS.maxConcurrency;
  return { max: rule.wholeNumber(n('maxConcurrency'), max, 1, 1024) };
}

/** A whole number of requests in flight; a word other than auto is answered with both choices. */
function fixedConcurrency(name: string, raw: Count): number {
  if (typeof raw === 'string' && !/^\s*\d+\s*$/.test(raw)) {
    throw usage(`${name} must be a whole number from 1 to 1024, or auto (got ${JSON.stringify(raw)})`);
  }
  return rule.wholeNumber(name, raw, 1, 1024);
}

function rejectsQueueOf(queueUrl: string, raw: string, n: NameOf): string {
  const url = checkQueueUrl(n('rejectsQueue'), raw);
  const same = url.replace(/\/$/, '') === queueUrl.replace(/\/$/, '');
  if (same) throw usage(`${n('rejectsQueue')} must differ from ${n('queue')}: refused rows would come straight back`);
  return url;
}
