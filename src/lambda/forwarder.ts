import { setMaxListeners } from 'node:events';
import { StickyHttpClient } from '../http/sticky-client.js';
import { makeRedactor, secretsOf } from '../redact.js';
import type { ForwarderConfig } from './config.js';
import { forwardRecords } from './forward-records.js';
import { fetchSecretHeaders } from './secrets.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from './sqs-event.js';

export interface ForwarderTotals {
  invocations: number;
  messages: number;
  failedMessages: number;
  delivered: number;
  rejected: number;
}

/**
 * One forwarder = one "container": a sticky HTTP client (keep-alive lanes, a cookie jar per
 * lane) that outlives each invocation. That survival is the point: a client made per invocation
 * starts cookieless, so the load balancer scatters every batch and stickiness never pays off.
 * The Lambda handler keeps one at module scope; `bulk-import forward` makes one per poller.
 */
export class Forwarder {
  readonly client: StickyHttpClient;
  readonly totals: ForwarderTotals = { invocations: 0, messages: 0, failedMessages: 0, delivered: 0, rejected: 0 };
  readonly #redact: (text: string) => string;

  constructor(
    readonly config: ForwarderConfig,
    private readonly log: (line: string) => void,
  ) {
    this.client = new StickyHttpClient(config.target);
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
    const result = await forwardRecords(event.Records ?? [], this.client, {
      batchSize,
      concurrency,
      stopStartingAt,
      signal,
      log: this.log,
      redact: this.#redact,
    });
    const t = this.totals;
    t.invocations++;
    t.messages += result.messages;
    t.failedMessages += result.failedIds.length;
    t.delivered += result.delivered;
    t.rejected += result.rejected;
    return { batchItemFailures: result.failedIds.map((id) => ({ itemIdentifier: id })) };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Resolves secret headers (once: the caller keeps the forwarder) and builds the forwarder. */
export async function createForwarder(config: ForwarderConfig, log: (line: string) => void, region?: string): Promise<Forwarder> {
  const secrets = Object.keys(config.secretHeaders).length > 0 ? await fetchSecretHeaders(config.secretHeaders, region) : {};
  const target = { ...config.target, headers: { ...config.target.headers, ...secrets } };
  return new Forwarder({ ...config, target }, log);
}
