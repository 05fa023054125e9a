import type { SendMessageCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import type { ForwardConfig } from './config/forward-config.js';
import { LatencyHistogram, type AdaptiveReport } from './http/adaptive-limit.js';
import { RateLimiter } from './http/rate-limit.js';
import type { PlacementReport } from './http/lane-placement.js';
import { RetryAfterBrake } from './http/retry-after-brake.js';
import type { LaneReport } from './http/sticky-client.js';
import { Forwarder, type ForwarderParts } from './lambda/forwarder.js';
import { mergePlacements } from './lambda/lanes-report.js';
import type { PollerCounters } from './queue/poller.js';
import { rejectsSender } from './queue/rejects.js';

export interface ForwardHooks {
  /** Stop receiving; the messages in hand are still forwarded and settled. */
  readonly signal?: AbortSignal;
  /** Abort the requests in flight too (a second Ctrl-C). */
  readonly hardSignal?: AbortSignal;
  /** The forwarders' log lines (JSON, secrets masked); default: standard error. */
  readonly log?: (line: string) => void;
}

export interface ForwardResult {
  /** `empty`: the queue stayed empty (untilEmpty); `interrupted`: the signal stopped it. */
  readonly stoppedBy: 'empty' | 'interrupted';
  readonly received: number;
  readonly deleted: number;
  /** Deletes SQS refused: those messages come back and are forwarded again (at-least-once). */
  readonly deleteFailures: number;
  readonly delivered: number;
  /** Rows refused one by one and sent to the rejects queue. */
  readonly rejected: number;
  /** Rows refused one by one whose message stays on the queue (no rejects queue). */
  readonly rejectedKept: number;
  /** Messages left on the queue because the API refused the endpoint (401, 403, 3xx…). */
  readonly endpointRefused: number;
  readonly requests: number;
  readonly pollers: number;
  readonly lanes: LaneReport[];
  /** `--sticky lane`: lanes per target at the end over all pollers, and the lanes they re-placed. */
  readonly lanePlacement?: PlacementReport;
  readonly elapsedMs: number;
  /** With `concurrency: 'auto'`: the pollers' limiters, as one report (see adaptiveReport). */
  readonly adaptiveConcurrency?: ForwardAdaptiveReport;
}

/**
 * The limit is each poller's own (a poller is one "container"): min and max over all pollers'
 * requests, the median of the pollers' medians weighted by their requests; `limitNow` is the sum
 * of the pollers' limits at the end (the most the API could see at once). Latencies and counts
 * are over every poller's attempts.
 */
export interface ForwardAdaptiveReport extends AdaptiveReport {
  /** Each poller's ceiling. */
  readonly max: number;
  readonly limitNow: number;
}

/**
 * `forward` as a library function: N pollers, each a forwarder "container", until the signal
 * aborts (or, with untilEmpty, the queue stays empty). Throws a BulkImportError when the queue
 * cannot be used; rows the API refused are counted in the result, not thrown.
 */
export async function runForward(c: ForwardConfig, hooks: ForwardHooks = {}): Promise<ForwardResult> {
  // The AWS SDK loads on first use: importing the library (or a direct-mode run) never pays for it.
  const [sdk, poller, client] = await Promise.all([
    import('@aws-sdk/client-sqs'),
    import('./queue/poller.js'),
    import('./queue/sqs-client.js'),
  ]);
  const { GetQueueAttributesCommand } = sdk;
  const { EmptyQueueWatch, runPoller } = poller;
  const { createSqsClient, sqsFailure } = client;
  const started = Date.now();
  const stop = hooks.signal ?? new AbortController().signal;
  const hard = hooks.hardSignal ?? new AbortController().signal;
  const log = hooks.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const sqs = createSqsClient(c.connection);
  // One limiter for every poller: rate is requests per second in total.
  const rate = c.forwarder.target.rate ? new RateLimiter(c.forwarder.target.rate) : undefined;
  // One Retry-After hold for every poller: the API asked this process to wait, not one lane or poller.
  // The limiters (auto) stay one per poller, like one per Lambda container; only the wait is shared.
  const brake = new RetryAfterBrake(c.forwarder.target.retry.maxRetryAfterMs);
  const parts: ForwarderParts = {
    brake,
    ...(rate ? { rate } : {}),
    ...(c.rejectsQueueUrl ? { rejects: rejectsSender(await sendTo(sqs, c.rejectsQueueUrl)) } : {}),
  };
  const forwarders = Array.from(
    { length: c.pollers },
    (_, i) => new Forwarder(c.forwarder, log, c.forwarder.autoConcurrency ? { ...parts, poller: i + 1 } : parts),
  );
  const counters: PollerCounters = { received: 0, deleted: 0, deleteFailures: 0 };
  try {
    const attrs = await sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: c.queueUrl, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }))
      .catch((err: unknown) => Promise.reject(sqsFailure(`--queue ${c.queueUrl}`, c.queueUrl, err)));
    if (c.rejectsQueueUrl) {
      const url = c.rejectsQueueUrl;
      // A wrong rejects queue fails now, as one line, not after the first refused row.
      await sqs
        .send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))
        .catch((err: unknown) => Promise.reject(sqsFailure(`--rejects-queue ${url}`, url, err)));
    }
    const visibilitySeconds = c.visibilitySeconds ?? Number(attrs.Attributes?.VisibilityTimeout ?? 30);
    const idle = c.untilEmpty ? new EmptyQueueWatch(sqs, c.queueUrl) : undefined;
    // One poller failing for good (the queue went away) stops the others, which finish what they hold.
    const failed = new AbortController();
    const halt = AbortSignal.any([stop, failed.signal, ...(idle ? [idle.signal] : [])]);
    const results = await Promise.allSettled(
      forwarders.map((forwarder) =>
        runPoller({
          sqs,
          queueUrl: c.queueUrl,
          queueArn: attrs.Attributes?.QueueArn ?? '',
          region: c.connection.region,
          forwarder,
          // Long polls of 20 s are what a service wants; a run that ends on an empty queue wants to notice soon.
          waitSeconds: c.untilEmpty ? 2 : 20,
          visibilitySeconds,
          stop: halt,
          hard,
          ...(idle ? { idle } : {}),
          counters,
        }).catch((err: unknown) => {
          failed.abort();
          throw err;
        }),
      ),
    );
    const error = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (error) throw error.reason;
    const sum = (pick: (f: Forwarder) => number) => forwarders.reduce((n, f) => n + pick(f), 0);
    const placement = mergePlacements(forwarders.map((f) => f.client.placement()));
    return {
      stoppedBy: stop.aborted ? 'interrupted' : 'empty',
      ...counters,
      delivered: sum((f) => f.totals.delivered),
      rejected: sum((f) => f.totals.rejected),
      rejectedKept: sum((f) => f.totals.rejectedKept),
      endpointRefused: sum((f) => f.totals.endpointRefused),
      requests: sum((f) => f.client.stats.requests),
      pollers: forwarders.length,
      lanes: forwarders.flatMap((f) => f.client.lanes()),
      ...(placement ? { lanePlacement: placement } : {}),
      elapsedMs: Date.now() - started,
      ...adaptiveReport(forwarders),
    };
  } finally {
    sqs.destroy();
    await Promise.all(forwarders.map((f) => f.close()));
  }
}

/** The pollers' limiters as one report; nothing with a fixed concurrency. */
function adaptiveReport(forwarders: readonly Forwarder[]): { adaptiveConcurrency?: ForwardAdaptiveReport } {
  const limiters = forwarders.flatMap((f) => (f.adaptive ? [{ a: f.adaptive, weight: f.client.stats.requests }] : []));
  const first = limiters[0];
  if (!first) return {};
  const reports = limiters.map(({ a, weight }) => ({ r: a.report(), weight }));
  const latency = new LatencyHistogram();
  for (const { a } of limiters) latency.addAll(a.latency);
  const byMedian = [...reports].sort((x, y) => x.r.limitMedian - y.r.limitMedian);
  const total = reports.reduce((n, x) => n + x.weight, 0);
  let seen = 0;
  const median = byMedian.find((x) => {
    seen += x.weight;
    return seen >= total / 2;
  });
  return {
    adaptiveConcurrency: {
      max: first.a.max,
      limitNow: limiters.reduce((n, { a }) => n + a.limit, 0),
      limitMin: Math.min(...reports.map((x) => x.r.limitMin)),
      limitMedian: median?.r.limitMedian ?? first.a.limit,
      limitMax: Math.max(...reports.map((x) => x.r.limitMax)),
      latencyP50Ms: latency.quantile(0.5),
      latencyP99Ms: latency.quantile(0.99),
      backoffs: reports.reduce((n, x) => n + x.r.backoffs, 0),
      brakes: reports.reduce((n, x) => n + x.r.brakes, 0),
    },
  };
}

/** SendMessage to the rejects queue, on the client that polls (same endpoint and credentials). */
async function sendTo(sqs: SQSClient, queueUrl: string) {
  const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
  const { sqsFailure } = await import('./queue/sqs-client.js');
  return async (body: string, attributes: NonNullable<SendMessageCommandInput['MessageAttributes']>): Promise<void> => {
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }));
    } catch (err) {
      throw sqsFailure('SendMessage to --rejects-queue', queueUrl, err);
    }
  };
}
