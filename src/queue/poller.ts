import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { receiveMessages } from './receive-messages.js';
import { toSqsRecord, type SqsEventHandler } from './sqs-event.js';

export interface PollerCounters {
  received: number;
  deleted: number;
  /** Deletes SQS refused: those messages come back and are forwarded again (at-least-once). */
  deleteFailures: number;
}

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  /** This poller's forwarder: its own sticky client, like one Lambda container. */
  readonly forwarder: SqsEventHandler;
  readonly waitSeconds: number;
  readonly visibilitySeconds: number;
  /** Stop receiving; what is held is still forwarded and deleted. */
  readonly stop: AbortSignal;
  /** Abort requests in flight (a second Ctrl-C). */
  readonly hard: AbortSignal;
  readonly idle?: EmptyQueueWatch;
  readonly counters: PollerCounters;
}

/**
 * One poller: long-polls, hands what it receives to the forwarder as the SQS event Lambda would
 * build, deletes the messages the forwarder did not report as failed, and leaves the rest to
 * come back after the visibility timeout, as the event source mapping does.
 */
export async function runPoller(o: PollerOptions): Promise<void> {
  while (!o.stop.aborted) {
    // Failures worth another try are retried with backoff inside; a fatal one throws.
    const messages = await receiveMessages(o);
    if (messages === undefined) break;
    if (messages.length === 0) {
      if (o.idle && (await o.idle.empty())) break;
      continue;
    }
    o.counters.received += messages.length;
    o.idle?.busy(1);
    try {
      await forwardAndDelete(o, messages);
    } finally {
      o.idle?.busy(-1);
    }
  }
}

async function forwardAndDelete(o: PollerOptions, messages: Message[]): Promise<void> {
  const receivedAt = Date.now();
  const event = { Records: messages.map((m) => toSqsRecord(m, o.queueArn, o.region)) };
  // The messages stay ours until their visibility timeout: that is this "invocation's" deadline.
  const context = { getRemainingTimeInMillis: () => receivedAt + o.visibilitySeconds * 1000 - Date.now() };
  const answer = await o.forwarder.handle(event, context, o.hard);
  const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
  const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
  if (done.length === 0) return;
  // Not tied to the stop signal: finishing what we hold includes deleting it.
  const res = await o.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: o.queueUrl,
      Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
    }),
  );
  o.counters.deleted += res.Successful?.length ?? 0;
  o.counters.deleteFailures += res.Failed?.length ?? 0;
}

/**
 * `--until-empty`: the queue is done when receives came back empty twice in a row, no poller
 * holds messages, and SQS counts nothing visible, in flight (failed ones waiting to come back)
 * or delayed. Then every poller stops.
 */
export class EmptyQueueWatch {
  readonly #done = new AbortController();
  #emptyInARow = 0;
  #busy = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  /** Aborts when the queue is found empty. */
  get signal(): AbortSignal {
    return this.#done.signal;
  }

  busy(delta: 1 | -1): void {
    this.#busy += delta;
    this.#emptyInARow = 0;
  }

  async empty(): Promise<boolean> {
    if (this.#done.signal.aborted) return true;
    if (++this.#emptyInARow < 2 || this.#busy > 0) return false;
    const res = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    const a = res.Attributes ?? {};
    const left =
      Number(a.ApproximateNumberOfMessages ?? 0) +
      Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
    if (left > 0 || this.#busy > 0) return false;
    this.#done.abort();
    return true;
  }
}
