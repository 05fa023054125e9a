import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { RateLimiter } from '../http/rate-limit.js';
import { Forwarder, type ForwarderParts } from '../lambda/forwarder.js';
import { rejectsSender } from '../queue/rejects.js';
import { EmptyQueueWatch, runPoller, type PollerCounters } from '../queue/poller.js';
import { createSqsClient, sqsFailure } from '../queue/sqs-client.js';
import { EXIT, exitCodeForSignal } from './exit-codes.js';
import type { ForwardConfig } from './forward-command.js';
import { trapStopSignals } from './signals.js';

/**
 * `forward` at work: N pollers, each a forwarder "container", until a stop signal (or, with
 * --until-empty, an empty queue). Prints one summary line; exit 0, 1 if the API rejected rows
 * for good, 130/143 when stopped by a signal.
 */
export async function runForward(c: ForwardConfig): Promise<void> {
  const started = Date.now();
  const sqs = createSqsClient(c.connection);
  const stop = trapStopSignals((sig) => process.stderr.write(`${sig}: stopping: no new receives, finishing the messages in hand (${sig} again to abort them)…\n`));
  // One limiter for every poller: --rate is requests per second in total, as its help says.
  const rate = c.forwarder.target.rate ? new RateLimiter(c.forwarder.target.rate) : undefined;
  const parts: ForwarderParts = {
    ...(rate ? { rate } : {}),
    ...(c.rejectsQueueUrl ? { rejects: rejectsSender(sendTo(sqs, c.rejectsQueueUrl)) } : {}),
  };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const forwarders = Array.from({ length: c.pollers }, () => new Forwarder(c.forwarder, log, parts));
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
    const halt = AbortSignal.any([stop.signal, failed.signal, ...(idle ? [idle.signal] : [])]);
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
          hard: stop.hardSignal,
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
    process.stdout.write(`${forwardSummary(forwarders, counters, Date.now() - started)}\n`);
    const notDelivered = forwarders.reduce((n, f) => n + f.totals.rejected + f.totals.rejectedKept + f.totals.endpointRefused, 0);
    process.exitCode = stop.received() ? exitCodeForSignal(stop.received()) : notDelivered > 0 ? EXIT.rowsFailed : EXIT.ok;
  } finally {
    stop.dispose();
    sqs.destroy();
    await Promise.all(forwarders.map((f) => f.close()));
  }
}

/** SendMessage to the rejects queue, on the client that polls (same endpoint and credentials). */
function sendTo(sqs: SQSClient, queueUrl: string) {
  return async (body: string, attributes: NonNullable<SendMessageCommand['input']['MessageAttributes']>): Promise<void> => {
    try {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }));
    } catch (err) {
      throw sqsFailure('SendMessage to --rejects-queue', queueUrl, err);
    }
  };
}

function forwardSummary(forwarders: readonly Forwarder[], k: PollerCounters, elapsedMs: number): string {
  const sum = (pick: (f: Forwarder) => number) => forwarders.reduce((n, f) => n + pick(f), 0);
  const delivered = sum((f) => f.totals.delivered);
  const secs = elapsedMs / 1000;
  const lanes = forwarders.flatMap((f) => f.client.lanes());
  return (
    `forward: ${k.received} messages (${k.deleted} deleted, ${k.received - k.deleted} left for redelivery), ` +
    `${delivered} rows delivered, ${sum((f) => f.totals.rejected)} rejected (to the rejects queue), ` +
    `${sum((f) => f.totals.rejectedKept)} rejected and kept on the queue, ` +
    `${sum((f) => f.totals.endpointRefused)} messages refused by the endpoint, ` +
    `${sum((f) => f.client.stats.requests)} requests ` +
    `in ${secs.toFixed(1)} s (${secs > 0 ? Math.round(delivered / secs) : 0} rows/s); ` +
    `${forwarders.length} pollers, ${lanes.length} lanes, ${lanes.filter((l) => l.sticky).length} holding a sticky cookie`
  );
}
