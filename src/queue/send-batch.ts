import type { SendMessageBatchCommandOutput, SQSClient } from '@aws-sdk/client-sqs';
import type { RetryPolicy } from '../http/retry-policy.js';
import { retry, retrying, type Retry } from '../retry/retrying.js';
import { errorCode } from '../errors.js';
import { bodyIntact, requestBody, sendBatchCommand } from './batch-request.js';
import { MAX_ENTRIES, packGroups } from './call-packer.js';
import { sendIsolating } from '../sink/isolate-refused.js';
import { messageOf, rowsOf, SQS_MAX_BYTES, type PackedMessage } from './message-packer.js';
import { classifySqsError, sqsFailure } from './sqs-client.js';

import { BILLING_CHUNK } from './pricing.js';

export { BILLING_CHUNK };

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

/** What a send loop ends with: enqueued, failed after retries, or refused by SQS for its content. */
type Sent = SendOutcome & { refused: Refused[] };

/** A message SQS refused for its content, with the answer that said so. */
interface Refused {
  readonly message: PackedMessage;
  readonly error: string;
  readonly attempts: number;
}

/**
 * Sends messages with SendMessageBatch until each is enqueued or has failed for good. A batch
 * answers per entry, so an HTTP 200 can still carry failures: entries SQS failed on its side are
 * sent again after a backoff; an entry refused for its content (a sender fault) has its rows
 * sent again in halves, as messages of their own, until the bad row stands alone: the halving
 * rule of sendIsolating, shared with direct mode and the forwarder. Throttling, 5xx and socket
 * errors retry the whole call; anything else (no such queue, access denied) ends the run with
 * one line.
 */
export async function sendMessages(ctx: SendContext, messages: readonly PackedMessage[]): Promise<SendOutcome> {
  const out = await sendWithRetries(ctx, messages);
  const enqueued = [...out.enqueued];
  const failed = [...out.failed];
  for (const r of out.refused) {
    const job = r.message.meta.job;
    // The whole message was the first send: answer it from what SQS already said.
    const isolated = await sendIsolating(rowsOf(r.message), async (rows, path) => {
      if (path === '') return { verdict: 'refused', answer: r };
      const piece = messageOf(job, rows);
      const res = await sendWithRetries(ctx, [piece]);
      if (res.enqueued.length > 0) return { verdict: 'ok', answer: { message: piece, error: '', attempts: 0 } };
      const refused = res.refused[0];
      if (refused) return { verdict: 'refused', answer: refused };
      return { verdict: 'failed', answer: res.failed[0] ?? { message: piece, error: 'not sent', attempts: 0 } };
    });
    for (const p of isolated.pieces) {
      if (p.verdict === 'ok') enqueued.push(p.answer.message);
      else failed.push({ message: p.answer.message, error: p.answer.error, attempts: p.answer.attempts });
    }
  }
  return { enqueued, failed };
}

/**
 * The send-and-retry loop: what was enqueued, what failed after retries, what SQS refused for its
 * content. Each round sends every pending entry once; an entry is failed when its own attempts are
 * spent. All entries of a round have made the same number of attempts, so the round number is the
 * retry number for the backoff and the wrapper's budget is never the one that ends the loop.
 */
async function sendWithRetries(ctx: SendContext, messages: readonly PackedMessage[]): Promise<Sent> {
  const sent: Sent = { enqueued: [], failed: [], refused: [] };
  let pending: Pending[] = messages.map((message) => ({ message, attempts: 0, error: '' }));
  const round = async (): Promise<Sent | Retry<Sent>> => {
    pending = await sendRound(ctx, pending, sent);
    return pending.length > 0 ? retry(sent) : sent;
  };
  const onRetry = () => {
    ctx.counters.retries++;
  };
  return pending.length === 0 ? sent : retrying(ctx.retry, round, ctx.signal, onRetry);
}

/** One round: every pending entry sent once; returns the entries to send again. */
async function sendRound(ctx: SendContext, pending: readonly Pending[], sent: Sent): Promise<Pending[]> {
  const { enqueued, failed, refused } = sent;
  const again: Pending[] = [];
  const settle = (p: Pending, error: string) => {
    p.attempts++;
    p.error = error;
    if (p.attempts > ctx.retry.retries) failed.push({ message: p.message, error, attempts: p.attempts });
    else again.push(p);
  };
  for (const call of packGroups(pending, (p) => p.message.bytes, MAX_ENTRIES, SQS_MAX_BYTES)) {
    ctx.signal.throwIfAborted();
    ctx.counters.calls++;
    ctx.counters.billed += Math.ceil(call.bytes / BILLING_CHUNK);
    ctx.counters.payloadBytes += call.bytes;
    let answer: SendMessageBatchCommandOutput;
    let md5: readonly string[];
    try {
      const request = requestBody(
        ctx.queueUrl,
        call.items.map((p) => p.message),
      );
      md5 = request.md5;
      answer = await ctx.sqs.send(sendBatchCommand(ctx.queueUrl, request.body), { abortSignal: ctx.signal });
      // SQS answered, so the body was read whole: its buffer can take the next call. After a
      // failure it is left to the GC (a socket may still hold it).
      request.release();
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      if (classifySqsError(err) === 'fatal') throw sqsFailure('SendMessageBatch', ctx.queueUrl, err);
      for (const p of call.items) settle(p, `SQS ${(err as { name?: string }).name ?? errorCode(err) ?? 'error'}`);
      continue;
    }
    const ok = new Map((answer.Successful ?? []).map((s) => [s.Id, s]));
    const refusals = new Map((answer.Failed ?? []).map((f) => [f.Id, f]));
    call.items.forEach((p, i) => {
      const id = String(i);
      const accepted = ok.get(id);
      if (accepted && bodyIntact(md5[i], accepted)) {
        ctx.counters.messages++;
        enqueued.push(p.message);
        return;
      }
      // A body SQS stored other than sent: retried like an entry SQS failed on its side.
      if (accepted) {
        settle(p, 'SQS stored a body whose MD5 differs from the one sent');
        return;
      }
      const f = refusals.get(id);
      const error = `SQS ${f?.Code ?? 'no answer for entry'}${f?.Message ? `: ${f.Message}` : ''}`;
      // Retrying the same content cannot help; smaller pieces can, unless the row alone is the problem.
      if (f?.SenderFault) refused.push({ message: p.message, error, attempts: p.attempts + 1 });
      else settle(p, error);
    });
  }
  return again;
}
