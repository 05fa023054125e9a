import { setMaxListeners } from 'node:events';
import { AdaptiveLimit } from '../http/adaptive-limit.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { RetryAfterBrake } from '../http/retry-after-brake.js';
import { StickyHttpClient } from '../http/sticky-client.js';
import { rejectsSender, type SendRejects } from '../queue/rejects.js';
import { makeRedactor, redactUrl, secretsOf } from '../redact.js';
import type { ForwarderConfig } from '../config/forward-config.js';
import { forwardRecords } from './forward-records.js';
import { loadRejectsQueue } from './rejects-queue.js';
import { fetchSecretHeaders } from './secrets.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../queue/sqs-event.js';

export interface ForwarderTotals {
  invocations: number;
  messages: number;
  failedMessages: number;
  delivered: number;
  /** Rows refused one by one and now in the rejects queue. */
  rejected: number;
  /** Rows refused one by one whose message was left on the queue. */
  rejectedKept: number;
  /** Messages left on the queue because the API refused the endpoint (401, 403, 3xx…). */
  endpointRefused: number;
}

/** With CONCURRENCY=auto, a quiet container still says where its limit is this often. */
const LIMIT_LOG_EVERY_MS = 60_000;

/** What a forwarder may share with others or be given from outside. */
export interface ForwarderParts {
  /** Where rows refused one by one go (the rejects queue). */
  readonly rejects?: SendRejects;
  /** Where `rejects` puts rows, for the log (default "rejects queue"). */
  readonly rejectsTo?: string;
  /** One limiter for several forwarders (`forward --rate` is a total over all pollers). */
  readonly rate?: RateLimiter;
  /** `forward`'s poller number, on this forwarder's log lines (a Lambda container has none). */
  readonly poller?: number;
  /** One Retry-After hold for several forwarders (`forward`: a Retry-After holds every poller). */
  readonly brake?: RetryAfterBrake;
}

/**
 * One forwarder = one "container": a sticky HTTP client (keep-alive lanes, a cookie jar per
 * lane) that outlives each invocation. That survival is the point: a client made per invocation
 * starts cookieless, so the load balancer scatters every batch and stickiness never pays off.
 * The Lambda handler keeps one at module scope; `bulk-import forward` makes one per poller.
 */
export class Forwarder {
  readonly client: StickyHttpClient;
  /**
   * `CONCURRENCY=auto`: the container's limiter. It lives as long as the client, so what it has
   * learned of the API (its limit, its latency floor) carries over to the next invocation.
   */
  readonly adaptive: AdaptiveLimit | undefined;
  readonly totals: ForwarderTotals = {
    invocations: 0,
    messages: 0,
    failedMessages: 0,
    delivered: 0,
    rejected: 0,
    rejectedKept: 0,
    endpointRefused: 0,
  };
  readonly #redact: (text: string) => string;
  /** Statuses already reported as endpoint refusals: said loudly once per container, not per row. */
  readonly #refusalsLogged = new Set<number>();
  /** The last `concurrency` line: when, and the backoffs and brakes it had counted. */
  #limitLogged: { at: number; backoffs: number; brakes: number } | undefined;

  constructor(
    readonly config: ForwarderConfig,
    private readonly log: (line: string) => void,
    private readonly parts: ForwarderParts = {},
  ) {
    const auto = config.autoConcurrency;
    this.adaptive = auto ? new AdaptiveLimit({ max: auto.max, initial: config.concurrency }) : undefined;
    this.client = new StickyHttpClient(config.target, parts.rate, this.adaptive, parts.brake);
    this.#redact = makeRedactor(secretsOf([config.target.url], config.target.headers));
  }

  /** The handler logic: an SQS event in, the messages to retry out (ReportBatchItemFailures). */
  async handle(event: SqsEvent, context: LambdaContext, hardSignal?: AbortSignal): Promise<SqsBatchResponse> {
    const start = Date.now();
    const { safetyMs, target, batchSize, concurrency } = this.config;
    const abortAt = start + context.getRemainingTimeInMillis() - safetyMs;
    // A request started after this could not finish one attempt before the deadline.
    const stopStartingAt = abortAt - Math.min(target.timeoutMs, Math.max(0, (abortAt - start) / 2));
    const deadline = AbortSignal.timeout(Math.max(1, abortAt - start));
    const signal = hardSignal ? AbortSignal.any([deadline, hardSignal]) : deadline;
    setMaxListeners(0, signal); // every request in flight listens on it, by design
    const adaptive = this.adaptive;
    const result = await forwardRecords(event.Records ?? [], this.client, {
      batchSize,
      concurrency: adaptive ? () => adaptive.limit : concurrency,
      stopStartingAt,
      signal,
      log: this.log,
      redact: this.#redact,
      ...(this.parts.rejects ? { rejects: this.parts.rejects } : {}),
      ...(this.parts.rejectsTo ? { rejectsTo: this.parts.rejectsTo } : {}),
      onEndpointRefused: (status, error) => this.#endpointRefused(status, error),
    });
    const t = this.totals;
    t.invocations++;
    t.messages += result.messages;
    t.failedMessages += result.failedIds.length;
    t.delivered += result.delivered;
    t.rejected += result.rejected;
    t.rejectedKept += result.rejectedKept;
    t.endpointRefused += result.endpointRefused;
    this.#logLimit();
    return { batchItemFailures: result.failedIds.map((id) => ({ itemIdentifier: id })) };
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * With CONCURRENCY=auto, at most one line per invocation, never one per request: on the first
   * invocation, after a backoff or a Retry-After brake, and otherwise every LIMIT_LOG_EVERY_MS.
   * The figures are the container's since it started (p50/p99 of the API's answers).
   */
  #logLimit(): void {
    const a = this.adaptive;
    if (!a) return;
    const r = a.report();
    const now = Date.now();
    const last = this.#limitLogged;
    const news = !last || r.backoffs > last.backoffs || r.brakes > last.brakes || now - last.at >= LIMIT_LOG_EVERY_MS;
    if (!news) return;
    this.#limitLogged = { at: now, backoffs: r.backoffs, brakes: r.brakes };
    const round = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms * 10) / 10);
    const line = {
      level: 'info',
      time: new Date(now).toISOString(),
      event: 'concurrency',
      ...(this.parts.poller !== undefined ? { poller: this.parts.poller } : {}),
      limit: a.limit,
      max: a.max,
      limitMin: r.limitMin,
      limitMedian: r.limitMedian,
      limitMax: r.limitMax,
      latencyP50Ms: round(r.latencyP50Ms),
      latencyP99Ms: round(r.latencyP99Ms),
      backoffs: r.backoffs,
      brakes: r.brakes,
      invocations: this.totals.invocations,
    };
    this.log(JSON.stringify(line));
  }

  #endpointRefused(status: number, error: string): void {
    if (this.#refusalsLogged.has(status)) return;
    this.#refusalsLogged.add(status);
    const line = {
      level: 'error',
      time: new Date().toISOString(),
      event: 'endpoint_refused',
      status,
      target: redactUrl(this.config.target.url),
      error,
      action:
        'no row is set aside or deleted: the messages stay on the queue for redelivery, then move to the ' +
        'dead-letter queue; fix the URL or credentials, then redrive',
    };
    this.log(this.#redact(JSON.stringify(line)));
  }
}

/**
 * Resolves secret headers and the rejects queue's client (once: the caller keeps the forwarder)
 * and builds the forwarder. `brake`: the container's Retry-After hold (see handler.ts).
 */
export async function createForwarder(
  config: ForwarderConfig,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
  brake?: RetryAfterBrake,
): Promise<Forwarder> {
  const region = env.AWS_REGION;
  const secrets =
    Object.keys(config.secretHeaders).length > 0 ? await fetchSecretHeaders(config.secretHeaders, region) : {};
  const target = { ...config.target, headers: { ...config.target.headers, ...secrets } };
  const rejects = config.rejectsQueueUrl
    ? rejectsSender(await loadRejectsQueue(config.rejectsQueueUrl, env))
    : undefined;
  return new Forwarder({ ...config, target }, log, { ...(rejects ? { rejects } : {}), ...(brake ? { brake } : {}) });
}
