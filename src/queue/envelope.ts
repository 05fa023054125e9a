import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { memberSpan, splitJsonArray } from '../json/scan.js';
import type { KeyTuple } from '../types.js';

/**
 * The message format of queue mode, shared by the sink that writes it and the forwarder that
 * reads it. A team may write its own consumer from this description (README, "Queue mode"):
 *
 *   body        {"v":1,"job":"<job id>","rows":[<row>,<row>,…]}
 *               each row is the JSON text the source produced, spliced in as is: never parsed
 *               and re-serialised, so a bigint or a 30-digit numeric keeps every digit.
 *   attributes  job       String  the job id (also in the body)
 *               rows      Number  how many rows the body holds
 *               keyRange  String  JSON [firstKey, lastKey] of the source batches the rows came
 *                                 from: no row of the message sorts outside it (always set)
 *               firstKey  String  JSON array of key strings: the key of the message's first row
 *               lastKey   String  JSON array of key strings: the key of its last row
 *
 * firstKey and lastKey are exact, and set only when known. A source hands over batches with the
 * keys of their first and last rows, not a key per row (PostgreSQL sends a batch as one JSON
 * array; a row's text need not even hold its key after a transform). So firstKey is set when
 * the message starts where a source batch starts, lastKey when it ends where one ends, and
 * either is left out when the message begins or ends inside a batch (the packer fills messages
 * to 64 KiB whatever the batch size, so that is common). keyRange then still bounds the rows.
 * Finding a row's key by parsing rows would cost a parse per message and be wrong for keys that
 * JSON renders differently (bigints, timestamps). A batch from which the transform dropped rows
 * gives no exact keys. A message holds a contiguous run of rows in key order. A new format gets
 * a new `v`.
 */
export const ENVELOPE_VERSION = 1;

/** The text before the first row: `{"v":1,"job":"…","rows":[`. */
export function envelopeHead(job: string): string {
  return `{"v":${ENVELOPE_VERSION},"job":${JSON.stringify(job)},"rows":[`;
}

export const ENVELOPE_TAIL = ']}';

/** The body around rows that are already JSON texts (joined with commas, or one spliced run). */
export function envelopeBody(job: string, rowTexts: readonly string[]): string {
  return `${envelopeHead(job)}${rowTexts.join(',')}${ENVELOPE_TAIL}`;
}

export interface EnvelopeMeta {
  readonly job: string;
  readonly rows: number;
  /** Bounds of the source batches the rows came from. */
  readonly range: readonly [KeyTuple, KeyTuple];
  /** The first row's key, when the message starts where a source batch starts. */
  readonly firstKey?: KeyTuple;
  /** The last row's key, when the message ends where a source batch ends. */
  readonly lastKey?: KeyTuple;
}

export function envelopeAttributes(m: EnvelopeMeta): Record<string, MessageAttributeValue> {
  return {
    job: { DataType: 'String', StringValue: m.job },
    rows: { DataType: 'Number', StringValue: String(m.rows) },
    keyRange: { DataType: 'String', StringValue: JSON.stringify(m.range) },
    ...(m.firstKey ? { firstKey: { DataType: 'String', StringValue: JSON.stringify(m.firstKey) } } : {}),
    ...(m.lastKey ? { lastKey: { DataType: 'String', StringValue: JSON.stringify(m.lastKey) } } : {}),
  };
}

/**
 * What the attributes add to a message's size as SQS counts it (name + data type + value, in
 * UTF-8 bytes): they count towards the 1 MiB limit and the 64 KiB billing chunks alike.
 */
export function attributesBytes(m: EnvelopeMeta): number {
  const first = utf8(JSON.stringify(m.range[0]));
  const last = utf8(JSON.stringify(m.range[1]));
  const exactFirst = m.firstKey ? KEY_ATTRIBUTE_BYTES.first + utf8(JSON.stringify(m.firstKey)) : 0;
  const exactLast = m.lastKey ? KEY_ATTRIBUTE_BYTES.last + utf8(JSON.stringify(m.lastKey)) : 0;
  return FIXED_ATTRIBUTE_BYTES + utf8(m.job) + first + last + 3 + String(m.rows).length + exactFirst + exactLast;
}

const FIXED_ATTRIBUTE_BYTES = 'job'.length + 'rows'.length + 'keyRange'.length + 2 * 'String'.length + 'Number'.length;
const KEY_ATTRIBUTE_BYTES = { first: 'firstKey'.length + 'String'.length, last: 'lastKey'.length + 'String'.length };

/**
 * An upper bound of the same from byte counts a packer keeps (the bounds' JSON sizes), so it
 * need not re-serialise keys for every row: the exact keys, when set, equal the bounds.
 */
export function attributesBytesOf(jobBytes: number, firstKeyBytes: number, lastKeyBytes: number, rows: number): number {
  const exact = KEY_ATTRIBUTE_BYTES.first + firstKeyBytes + KEY_ATTRIBUTE_BYTES.last + lastKeyBytes;
  return FIXED_ATTRIBUTE_BYTES + jobBytes + firstKeyBytes + lastKeyBytes + 3 + String(rows).length + exact;
}

export function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export interface Envelope {
  readonly v: number;
  readonly job: string;
  /** Each row's JSON text exactly as it stands in the body. */
  readonly rows: string[];
}

export type ParsedEnvelope = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/**
 * Checks a body on the consumer side. A malformed message is data, not an exception: the
 * forwarder logs the reason and leaves the message to the queue's redrive policy (DLQ).
 */
export function parseEnvelope(body: string, attributeRows?: string): ParsedEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, reason: 'body is not a JSON object' };
  const p = parsed as { v?: unknown; job?: unknown; rows?: unknown };
  if (p.v !== ENVELOPE_VERSION)
    return {
      ok: false,
      reason: `unknown envelope version ${JSON.stringify(p.v ?? null)} (this forwarder reads v${ENVELOPE_VERSION})`,
    };
  if (!Array.isArray(p.rows)) return { ok: false, reason: '"rows" is not an array' };
  const span = memberSpan(body, 'rows');
  if (!span) return { ok: false, reason: '"rows" not found at the top level' };
  const rows = splitJsonArray(body.slice(span[0], span[1]));
  if (rows.length !== p.rows.length)
    return { ok: false, reason: `rows could not be split (${rows.length} of ${p.rows.length})` };
  if (attributeRows !== undefined && Number(attributeRows) !== rows.length) {
    return { ok: false, reason: `the rows attribute says ${attributeRows} but the body holds ${rows.length}` };
  }
  return { ok: true, envelope: { v: p.v, job: typeof p.job === 'string' ? p.job : '', rows } };
}
