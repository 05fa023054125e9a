import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import type { SendResult, StickyHttpClient } from '../http/sticky-client.js';
import { classifyStatus } from '../http/retry-policy.js';
import { parseEnvelope } from '../queue/envelope.js';
import type { SqsRecord } from './sqs-event.js';

export interface ForwardOptions {
  /** Rows per API request: 1 sends a JSON object, more a JSON array. */
  readonly batchSize: number;
  /** API requests in flight across all records of one call. */
  readonly concurrency: number;
  /** Epoch ms after which no new request starts; what is left reports its message as failed. */
  readonly stopStartingAt: number;
  /** Aborts requests in flight (the deadline itself, or a hard stop). */
  readonly signal?: AbortSignal;
  /** One structured JSON line per event worth keeping (rejected rows, malformed messages). */
  readonly log: (line: string) => void;
  /** Masks secrets in anything logged (see redact.ts). */
  readonly redact: (text: string) => string;
  readonly now?: () => number;
}

export interface ForwardResult {
  /** Messages to leave on the queue: some row was not delivered for a reason worth retrying. */
  readonly failedIds: string[];
  readonly messages: number;
  readonly delivered: number;
  /** Rows the API refused for good (4xx): logged, and their message still counts as done. */
  readonly rejected: number;
}

/**
 * The forwarder's core, shared by the Lambda handler and `bulk-import forward`: each message's
 * rows go out in API batches through the sticky client, with bounded concurrency. A message
 * fails only when a row could not be delivered for a retryable reason or the deadline came
 * first, because SQS can only redeliver whole messages; rows the API rejects are logged instead,
 * or one bad row would send its message round the queue until the DLQ, good rows and all.
 */
export async function forwardRecords(records: readonly SqsRecord[], client: StickyHttpClient, opts: ForwardOptions): Promise<ForwardResult> {
  const now = opts.now ?? Date.now;
  const limit = pLimit(opts.concurrency);
  const failed = new Set<string>();
  let delivered = 0;
  let rejected = 0;
  const tasks: Promise<void>[] = [];
  for (const record of records) {
    const parsed = parseEnvelope(record.body, record.messageAttributes.rows?.stringValue);
    if (!parsed.ok) {
      // Never deliverable: failing it lets the redrive policy park it in the DLQ for a human.
      opts.log(logLine({ event: 'message_malformed', messageId: record.messageId, reason: parsed.reason }, opts.redact));
      failed.add(record.messageId);
      continue;
    }
    const { job, rows } = parsed.envelope;
    for (let i = 0; i < rows.length; i += opts.batchSize) {
      const chunk = rows.slice(i, i + opts.batchSize);
      tasks.push(
        limit(async () => {
          // A message already failed goes round again whole: sending the rest now only duplicates it.
          if (failed.has(record.messageId)) return;
          if (now() >= opts.stopStartingAt || opts.signal?.aborted) {
            failed.add(record.messageId);
            return;
          }
          const body = opts.batchSize === 1 ? (chunk[0] as string) : `[${chunk.join(',')}]`;
          let result: SendResult;
          try {
            result = await client.send(body, idempotencyKeyOf(job, body), opts.signal);
          } catch {
            failed.add(record.messageId); // aborted at the deadline or by a hard stop
            return;
          }
          if (result.ok) {
            delivered += chunk.length;
          } else if (result.status !== null && classifyStatus(result.status) === 'permanent') {
            rejected += chunk.length;
            for (const row of chunk) {
              opts.log(logLine({ event: 'row_rejected', messageId: record.messageId, job, status: result.status, error: result.error, attempts: result.attempts, row }, opts.redact));
            }
          } else {
            failed.add(record.messageId);
          }
        }),
      );
    }
  }
  await Promise.all(tasks);
  const failedIds = records.filter((r) => failed.has(r.messageId)).map((r) => r.messageId);
  return { failedIds, messages: records.length, delivered, rejected };
}

/**
 * Stable for the same rows of the same job, so a message SQS delivers twice carries the same
 * keys both times and an API that deduplicates can drop the repeat.
 */
export function idempotencyKeyOf(job: string, body: string): string {
  return createHash('sha256').update(job).update('\0').update(body).digest('base64url').slice(0, 32);
}

function logLine(fields: Record<string, unknown>, redact: (s: string) => string): string {
  try {
    return redact(JSON.stringify({ level: 'warn', time: new Date().toISOString(), ...fields }));
  } catch (err) {
    return JSON.stringify({ level: 'warn', event: 'log_failed', error: errorMessage(err) });
  }
}
