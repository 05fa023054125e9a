import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import type { SendResult, StickyHttpClient } from '../http/sticky-client.js';
import { parseEnvelope, type ParsedEnvelope } from '../queue/envelope.js';
import type { RejectedRow, SendRejects } from '../queue/rejects.js';
import { sendIsolating, type PieceVerdict } from '../sink/isolate-refused.js';
import { answerKind } from './answer-kind.js';
import type { SqsRecord } from '../queue/sqs-event.js';

export interface ForwardOptions {
  /** Rows per API request: 1 sends a JSON object, more a JSON array. */
  readonly batchSize: number;
  /** API requests in flight across all records of one call; a function is read again as each batch ends (auto). */
  readonly concurrency: number | (() => number);
  /** Epoch ms after which no new request starts; what is left reports its message as failed. */
  readonly stopStartingAt: number;
  /** Aborts requests in flight (the deadline itself, or a hard stop). */
  readonly signal?: AbortSignal;
  /** One structured JSON line per event worth keeping (rejected rows, malformed messages). */
  readonly log: (line: string) => void;
  /** Masks secrets in anything logged (see redact.ts). */
  readonly redact: (text: string) => string;
  /**
   * Where rows the API refused one by one go before their message is deleted. Without it such a
   * message stays on the queue (and so reaches the dead-letter queue), good rows and all.
   */
  readonly rejects?: SendRejects;
  /** Where `rejects` puts rows, for the log (default "rejects queue"). */
  readonly rejectsTo?: string;
  /** Called on an answer that says the endpoint, not a row, is wrong (the caller logs it once). */
  readonly onEndpointRefused?: (status: number, error: string) => void;
  readonly now?: () => number;
}

export interface ForwardResult {
  /** Messages to leave on the queue: some row was not delivered nor set aside in the rejects queue. */
  readonly failedIds: string[];
  readonly messages: number;
  readonly delivered: number;
  /** Rows the API refused one by one, now in the rejects queue (their messages are done). */
  readonly rejected: number;
  /** Rows refused one by one whose message stays on the queue (no rejects queue, or it failed). */
  readonly rejectedKept: number;
  /** Messages left on the queue because the API refused the endpoint itself (401, 403, 3xx…). */
  readonly endpointRefused: number;
}

interface MessageState {
  failed: boolean;
  endpoint: boolean;
  readonly rejected: RejectedRow[];
}

/**
 * The forwarder's core, shared by the Lambda handler and `bulk-import forward`: each message's
 * rows go out in API batches through the sticky client, with bounded concurrency. A batch the
 * API refuses for its content is halved until each refused row stands alone (sendIsolating), so
 * one bad row costs only itself. A message is done, and may be deleted, only when each of its
 * rows was delivered or, refused alone, is safe in the rejects queue; otherwise it is reported
 * failed and SQS redelivers it whole (then moves it to the dead-letter queue). An answer that
 * says the endpoint is wrong stops every new request of the call: nothing is set aside for it.
 */
export async function forwardRecords(
  records: readonly SqsRecord[],
  client: StickyHttpClient,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  const now = opts.now ?? Date.now;
  const concurrency = typeof opts.concurrency === 'number' ? () => opts.concurrency as number : opts.concurrency;
  const limit = pLimit(concurrency());
  const failed = new Set<string>();
  const totals = { delivered: 0, rejected: 0, rejectedKept: 0, endpointRefused: 0 };
  let endpointDown = false;
  const messages: Promise<void>[] = [];
  for (const record of records) {
    const parsed = parseRecord(record);
    if (!parsed.ok) {
      // Never deliverable: failing it lets the redrive policy park it in the DLQ for a human.
      opts.log(
        logLine(
          'warn',
          { event: 'message_malformed', messageId: record?.messageId, reason: parsed.reason },
          opts.redact,
        ),
      );
      failed.add(record?.messageId);
      continue;
    }
    const { job, rows } = parsed.envelope;
    const state: MessageState = { failed: false, endpoint: false, rejected: [] };
    const send = async (piece: readonly string[]): Promise<{ verdict: PieceVerdict; answer: RejectedRow | null }> => {
      // A message already failed goes round again whole: sending the rest now only duplicates it.
      if (state.failed || endpointDown || now() >= opts.stopStartingAt || opts.signal?.aborted) {
        state.failed = true;
        if (endpointDown) state.endpoint = true;
        return { verdict: 'failed', answer: null };
      }
      const body = opts.batchSize === 1 ? (piece[0] as string) : `[${piece.join(',')}]`;
      let result: SendResult;
      try {
        result = await client.send(body, idempotencyKeyOf(job, body), opts.signal);
      } catch {
        state.failed = true; // aborted at the deadline or by a hard stop
        return { verdict: 'failed', answer: null };
      }
      const answer = {
        row: piece[0] as string,
        status: result.status,
        error: opts.redact(result.error),
        attempts: result.attempts,
      };
      const kind = answerKind(result);
      if (kind === 'ok') return { verdict: 'ok', answer };
      if (kind === 'row') return { verdict: 'refused', answer };
      if (kind === 'endpoint') {
        endpointDown = true;
        state.endpoint = true;
        opts.onEndpointRefused?.(result.status as number, answer.error);
      }
      state.failed = true;
      return { verdict: 'failed', answer };
    };
    const chunks: Promise<void>[] = [];
    for (let i = 0; i < rows.length; i += opts.batchSize) {
      const chunk = rows.slice(i, i + opts.batchSize);
      chunks.push(
        limit(async () => {
          const out = await sendIsolating(chunk, send).finally(() => {
            limit.concurrency = concurrency(); // p-limit starts queued batches at once on a raise
          });
          for (const p of out.pieces) {
            if (p.verdict === 'ok') totals.delivered += p.rows.length;
            else if (p.verdict === 'refused' && p.answer) state.rejected.push(p.answer);
            else state.failed = true;
          }
        }),
      );
    }
    messages.push(
      Promise.all(chunks).then(async () => {
        if (!(await settle(record.messageId, job, state, opts, totals))) failed.add(record.messageId);
      }),
    );
  }
  await Promise.all(messages);
  const failedIds = records.filter((r) => r && failed.has(r.messageId)).map((r) => r.messageId);
  return { failedIds, messages: records.length, ...totals };
}

/** Whether a message whose requests are over is done: delivered, or its refused rows set aside. */
async function settle(
  messageId: string,
  job: string,
  state: MessageState,
  opts: ForwardOptions,
  totals: { rejected: number; rejectedKept: number; endpointRefused: number },
): Promise<boolean> {
  if (state.endpoint) totals.endpointRefused++;
  // Rows refused in a message that goes round again are refused again next time: set aside then.
  if (state.failed) return false;
  const n = state.rejected.length;
  if (n === 0) return true;
  const statuses = [...new Set(state.rejected.map((r) => r.status))];
  // One line per message, without the rows or the API's answers about them (they may quote
  // personal data): those travel with the rows to the rejects queue.
  const about = { messageId, job, rows: n, statuses };
  if (!opts.rejects) {
    totals.rejectedKept += n;
    const kept =
      'no rejects queue is set (REJECTS_QUEUE_URL, --rejects-queue): the message stays on the queue, then the dead-letter queue';
    opts.log(logLine('warn', { event: 'rows_rejected', ...about, kept }, opts.redact));
    return false;
  }
  try {
    await opts.rejects(job, state.rejected, messageId);
  } catch (err) {
    totals.rejectedKept += n;
    const kept = 'the message stays on the queue for redelivery';
    opts.log(logLine('error', { event: 'rejects_send_failed', ...about, error: errorMessage(err), kept }, opts.redact));
    return false;
  }
  totals.rejected += n;
  opts.log(logLine('warn', { event: 'rows_rejected', ...about, sent: opts.rejectsTo ?? 'rejects queue' }, opts.redact));
  return true;
}

/** A record Lambda built without attributes or a body is one bad message, not a bad batch. */
function parseRecord(record: SqsRecord | undefined): ParsedEnvelope {
  if (typeof record?.body !== 'string') return { ok: false, reason: 'the record has no body' };
  const rows = record.messageAttributes?.rows;
  return parseEnvelope(record.body, typeof rows?.stringValue === 'string' ? rows.stringValue : undefined);
}

/**
 * Stable for the same rows of the same job, so a message SQS delivers twice carries the same
 * keys both times and an API that deduplicates can drop the repeat; a piece of a halved batch
 * is the same piece every time, so its key is stable too.
 */
export function idempotencyKeyOf(job: string, body: string): string {
  return createHash('sha256').update(job).update('\0').update(body).digest('base64url').slice(0, 32);
}

function logLine(level: 'warn' | 'error', fields: Record<string, unknown>, redact: (s: string) => string): string {
  try {
    return redact(JSON.stringify({ level, time: new Date().toISOString(), ...fields }));
  } catch (err) {
    return JSON.stringify({ level, event: 'log_failed', error: errorMessage(err) });
  }
}
