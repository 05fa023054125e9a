import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { DEFAULT_RETRY_POLICY } from '../http/retry-policy.js';
import { retry, retrying, type Retry } from '../retry/retrying.js';
import { classifySqsError, sqsFailure } from './sqs-client.js';

export interface ReceiveOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Long poll: how long SQS may hold an empty receive open. */
  readonly waitSeconds: number;
  readonly visibilitySeconds: number;
  /** Cuts a receive, or the wait before another try, short. */
  readonly stop: AbortSignal;
}

/** Receive failures in a row (with backoff) before giving up on the queue. */
const MAX_RECEIVE_FAILURES = 8;
const RECEIVE_POLICY = { ...DEFAULT_RETRY_POLICY, retries: MAX_RECEIVE_FAILURES - 1 };

/**
 * One receive of up to 10 messages, as `forward`'s pollers and `replay --queue` do it: a failure
 * worth another try (throttling, 5xx, network) is retried with the retry policy's backoff, on top
 * of the SDK client's own attempts, so a queue that hiccups for a few seconds costs a wait, not
 * the run. Returns the messages (maybe none), or undefined when `stop` cut it short. Throws a
 * BulkImportError at once for a fatal failure (no such queue, access denied), or when
 * MAX_RECEIVE_FAILURES failures in a row have run out.
 */
export async function receiveMessages(o: ReceiveOptions): Promise<Message[] | undefined> {
  try {
    return await retrying(RECEIVE_POLICY, receiver(o), o.stop);
  } catch (err) {
    // A stop during the backoff ends the wait; anything else is the fatal error itself.
    if (o.stop.aborted) return undefined;
    throw err;
  }
}

function receiver(o: ReceiveOptions): (n: number) => Promise<Message[] | undefined | Retry<Message[]>> {
  return async (n) => {
    try {
      const res = await o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: o.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: o.waitSeconds,
          VisibilityTimeout: o.visibilitySeconds,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: o.stop },
      );
      return res.Messages ?? [];
    } catch (err) {
      if (o.stop.aborted) return undefined;
      if (classifySqsError(err) === 'fatal' || n >= MAX_RECEIVE_FAILURES) {
        throw sqsFailure('ReceiveMessage', o.queueUrl, err);
      }
      return retry([]);
    }
  };
}
