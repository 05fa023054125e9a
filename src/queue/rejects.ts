import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { envelopeHead, utf8 } from './envelope.js';
import { packGroups } from './call-packer.js';
import { SQS_MAX_BYTES } from './message-packer.js';

/**
 * Rows the API refused one by one (after halving), sent on to a rejects queue the user names so
 * they can be replayed (`bulk-import replay --queue`) once the cause is fixed. The message is the
 * queue-mode envelope with one more member, so every reader of v1 envelopes reads it as is:
 *
 *   {"v":1,"job":"<job>","rows":[<row>,…],"failures":[{"status":422,"error":"…","attempts":1},…],"from":"<id>"}
 *
 *   failures  one entry per row, in the order of `rows`: the API's status (null for none) and
 *             its answer (truncated, secrets masked); readers that do not know it ignore it
 *   from      the id of the message the rows came from
 *
 * Attributes: `job`, `rows` (as on any envelope) and `rejects` = "1".
 */
export interface RejectedRow {
  readonly row: string;
  readonly status: number | null;
  readonly error: string;
  readonly attempts: number;
}

/** Sends one message body with its attributes to the rejects queue (SQS SendMessage). */
export type SendMessage = (body: string, attributes: Record<string, MessageAttributeValue>) => Promise<void>;

/** What the forwarder calls for a message whose refused rows need a home before it is deleted. */
export type SendRejects = (job: string, rows: readonly RejectedRow[], fromMessageId: string) => Promise<void>;

/** Room kept for the attributes and the closing members of a body. */
const ATTRIBUTE_ROOM = 1024;

/** The bodies holding `rows`, each within `maxBytes` (a row larger than that goes alone). */
export function rejectsBodies(
  job: string,
  rows: readonly RejectedRow[],
  from: string,
  maxBytes = SQS_MAX_BYTES,
): { body: string; rows: number }[] {
  const head = envelopeHead(job);
  const tail = (failures: string[]) => `],"failures":[${failures.join(',')}],"from":${JSON.stringify(from)}}`;
  const budget = maxBytes - ATTRIBUTE_ROOM - utf8(head) - utf8(tail([]));
  const pieces = rows.map((r) => {
    const failure = JSON.stringify({ status: r.status, error: r.error.slice(0, 500), attempts: r.attempts });
    return { row: r.row, failure, bytes: utf8(r.row) + utf8(failure) + 2 };
  });
  return packGroups(pieces, (p) => p.bytes, Number.POSITIVE_INFINITY, budget).map(({ items }) => ({
    body: `${head}${items.map((p) => p.row).join(',')}${tail(items.map((p) => p.failure))}`,
    rows: items.length,
  }));
}

export function rejectsAttributes(job: string, rows: number): Record<string, MessageAttributeValue> {
  return {
    job: { DataType: 'String', StringValue: job },
    rows: { DataType: 'Number', StringValue: String(rows) },
    rejects: { DataType: 'String', StringValue: '1' },
  };
}

/** The forwarder's SendRejects over one SendMessage function: one message per body, in order. */
export function rejectsSender(send: SendMessage, maxBytes = SQS_MAX_BYTES): SendRejects {
  return async (job, rows, from) => {
    for (const b of rejectsBodies(job, rows, from, maxBytes)) await send(b.body, rejectsAttributes(job, b.rows));
  };
}
