import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { backoffDelay, type RetryPolicy } from '../http/retry-policy.js';
import { errorCode } from '../errors.js';
import { envelopeAttributes } from './envelope.js';
import { MAX_ENTRIES } from './call-packer.js';
import { SQS_MAX_BYTES, splitMessage, type PackedMessage } from './message-packer.js';
import { classifySqsError, sqsFailure } from './sqs-client.js';

/** SQS bills each 64 KiB chunk of a request's payload as one request. */
export const BILLING_CHUNK = 65_536;


export interface EnqueueCounters {
  /** Messages SQS accepted. */
  messages: number;
  /** SendMessageBatch calls made, retries included (each is billed). */
  calls: number;
  /** Σ over calls of ceil(payload / 64 KiB): what the bill counts. */
  billed: number;
  payloadBytes: number;
  retries: number;
  inFlight: number;
}

export function newCounters(): EnqueueCounters {
  return { messages: 0, calls: 0, billed: 0, payloadBytes: 0, retries: 0, inFlight: 0 };
}

export interface SendContext {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly retry: RetryPolicy;
  readonly counters: EnqueueCounters;
  readonly signal: AbortSignal;
}

export interface SendOutcome {
  readonly enqueued: PackedMessage[];
  readonly failed: { message: PackedMessage; error: string; attempts: number }[];
}

interface Pending {
  readonly message: PackedMessage;
  attempts: number;
  error: string;
}

/**
 * Sends messages with SendMessageBatch until each is enqueued or has failed for good. A batch
 * answers per entry, so an HTTP 200 can still carry failures: entries SQS failed on its side are
 * sent again after a backoff; entries refused for their content are split in halves until the
 * bad row stands alone. Throttling, 5xx and socket errors retry the whole call; anything else
 * (no such queue, access denied) ends the run with one line.
 */
export async function sendMessages(ctx: SendContext, messages: readonly PackedMessage[]): Promise<SendOutcome> {
  const enqueued: PackedMessage[] = [];
  const failed: SendOutcome['failed'] = [];
  let pending: Pending[] = messages.map((message) => ({ message, attempts: 0, error: '' }));
  for (let round = 1; pending.length > 0; round++) {
    const again: Pending[] = [];
    const settle = (p: Pending, error: string) => {
      p.attempts++;
      p.error = error;
      if (p.attempts > ctx.retry.retries) failed.push({ message: p.message, error, attempts: p.attempts });
      else again.push(p);
    };
    for (const call of chunk(pending)) {
      ctx.signal.throwIfAborted();
      const entries: SendMessageBatchRequestEntry[] = call.map((p, i) => ({ Id: String(i), MessageBody: p.message.body, MessageAttributes: envelopeAttributes(p.message.meta) }));
      const bytes = call.reduce((n, p) => n + p.message.bytes, 0);
      ctx.counters.calls++;
      ctx.counters.billed += Math.ceil(bytes / BILLING_CHUNK);
      ctx.counters.payloadBytes += bytes;
      let answer;
      try {
        answer = await ctx.sqs.send(new SendMessageBatchCommand({ QueueUrl: ctx.queueUrl, Entries: entries }), { abortSignal: ctx.signal });
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (classifySqsError(err) === 'fatal') throw sqsFailure('SendMessageBatch', ctx.queueUrl, err);
        for (const p of call) settle(p, `SQS ${(err as { name?: string }).name ?? errorCode(err) ?? 'error'}`);
        continue;
      }
      const ok = new Set((answer.Successful ?? []).map((s) => s.Id));
      const refused = new Map((answer.Failed ?? []).map((f) => [f.Id, f]));
      call.forEach((p, i) => {
        const id = String(i);
        if (ok.has(id)) {
          ctx.counters.messages++;
          enqueued.push(p.message);
          return;
        }
        const f = refused.get(id);
        const error = `SQS ${f?.Code ?? 'no answer for entry'}${f?.Message ? `: ${f.Message}` : ''}`;
        if (f?.SenderFault) {
          // Retrying the same content cannot help; halves can, unless the row alone is the problem.
          const halves = splitMessage(p.message);
          if (halves) again.push(...halves.map((message) => ({ message, attempts: p.attempts, error })));
          else failed.push({ message: p.message, error, attempts: p.attempts + 1 });
        } else settle(p, error);
      });
    }
    if (again.length > 0) {
      ctx.counters.retries++;
      const waitFor = again.some((p) => p.attempts > 0) ? backoffDelay(ctx.retry, Math.max(...again.map((p) => p.attempts)), undefined) : 0;
      await sleep(waitFor, undefined, { signal: ctx.signal });
    }
    pending = again;
  }
  return { enqueued, failed };
}

/** Groups messages into valid calls: at most 10 entries and 1 MiB each. */
function chunk(pending: readonly Pending[]): Pending[][] {
  const calls: Pending[][] = [];
  let current: Pending[] = [];
  let bytes = 0;
  for (const p of pending) {
    if (current.length === MAX_ENTRIES || (current.length > 0 && bytes + p.message.bytes > SQS_MAX_BYTES)) {
      calls.push(current);
      current = [];
      bytes = 0;
    }
    current.push(p);
    bytes += p.message.bytes;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

