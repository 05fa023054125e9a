import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { MAX_ENTRIES, packGroups } from './call-packer.js';
import { receiveMessages } from './receive-messages.js';
import { toSqsRecord, type SqsEventHandler } from './sqs-event.js';
import { sqsFailure } from './sqs-client.js';

export interface ReplayQueueOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Its `rejects` writes to the local failed file: rows refused again end there. */
  readonly forwarder: SqsEventHandler;
  /** How long a received message stays ours: the deadline for forwarding it. */
  readonly visibilitySeconds: number;
  /** Stop receiving; what is held is still forwarded and settled. */
  readonly stop: AbortSignal;
  /** Abort requests in flight. */
  readonly hard: AbortSignal;
}

export interface ReplayQueueResult {
  received: number;
  deleted: number;
  /** Messages not delivered for a reason other than their rows (5xx, the endpoint, malformed): left on the queue. */
  kept: number;
}

/**
 * `replay --queue`: one pass over a rejects queue or a dead-letter queue. Each message goes
 * through the forwarder's core (halving included); it is deleted once each of its rows was
 * delivered or written to the failed file. A message that could not be settled is made visible
 * again at the end of the pass, not during it (else the pass would chase it forever), so the
 * queue keeps it for the next replay; one that comes back by itself during the pass (a visibility
 * timeout shorter than the pass) is not sent again. The pass ends when two receives in a row
 * bring nothing new. A receive that fails is retried as `forward`'s pollers retry theirs
 * (receive-messages.ts).
 */
export async function replayQueue(o: ReplayQueueOptions): Promise<ReplayQueueResult> {
  const result: ReplayQueueResult = { received: 0, deleted: 0, kept: 0 };
  /** By message id: a kept message received again is only held, under its newest receipt handle. */
  const kept = new Map<string, Message>();
  try {
    for (let empty = 0; empty < 2 && !o.stop.aborted; ) {
      // As `forward`'s pollers: throttling, 5xx and network failures are retried with backoff; a
      // fatal one (no such queue, access denied) ends the pass, kept messages released.
      const received = await receiveMessages({ ...o, waitSeconds: 1 });
      if (received === undefined) break;
      const messages = received.filter((m) => !kept.has(m.MessageId ?? ''));
      for (const m of received) if (kept.has(m.MessageId ?? '')) kept.set(m.MessageId ?? '', m);
      if (messages.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      result.received += messages.length;
      const receivedAt = Date.now();
      const context = { getRemainingTimeInMillis: () => receivedAt + o.visibilitySeconds * 1000 - Date.now() };
      const event = { Records: messages.map((m) => toSqsRecord(m, '', '')) };
      const answer = await o.forwarder.handle(event, context, o.hard);
      const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      for (const m of messages) if (failed.has(m.MessageId ?? '')) kept.set(m.MessageId ?? '', m);
      if (done.length > 0) {
        const entries = done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string }));
        const res = await o.sqs
          .send(new DeleteMessageBatchCommand({ QueueUrl: o.queueUrl, Entries: entries }))
          .catch((err: unknown) => Promise.reject(sqsFailure('DeleteMessageBatch', o.queueUrl, err)));
        result.deleted += res.Successful?.length ?? 0;
      }
    }
  } finally {
    result.kept = kept.size;
    await release(o, [...kept.values()]);
  }
  return result;
}

/** Makes kept messages visible again now, rather than after the pass's long visibility timeout. */
async function release(o: ReplayQueueOptions, messages: readonly Message[]): Promise<void> {
  for (const call of packGroups(messages, () => 0, MAX_ENTRIES, Number.POSITIVE_INFINITY)) {
    const entries = call.items.map((m, j) => ({
      Id: String(j),
      ReceiptHandle: m.ReceiptHandle as string,
      VisibilityTimeout: 0,
    }));
    // Best effort: a message not released comes back after its visibility timeout anyway.
    await o.sqs
      .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: o.queueUrl, Entries: entries }))
      .catch(() => undefined);
  }
}
