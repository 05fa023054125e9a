import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { splitJsonArray } from '../source/batch.js';
import type { KeyTuple } from '../types.js';

/**
 * The message format of queue mode, shared by the sink that writes it and the forwarder that
 * reads it. A team may write its own consumer from this description (README, "Queue mode"):
 *
 *   body        {"v":1,"job":"<job id>","rows":[<row>,<row>,…]}
 *               each row is the JSON text the source produced, spliced in as is: never parsed
 *               and re-serialised, so a bigint or a 30-digit numeric keeps every digit.
 *   attributes  job       String  the job id (also in the body)
 *               firstKey  String  JSON array of key strings: no row in the message sorts before it
 *               lastKey   String  JSON array of key strings: no row in the message sorts after it
 *               rows      Number  how many rows the body holds
 *
 * The keys are those of the source batches the rows came from, so they bound the rows of the
 * message; a message holds a contiguous run of rows in key order. A new format gets a new `v`.
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
  readonly firstKey: KeyTuple;
  readonly lastKey: KeyTuple;
  readonly rows: number;
}

export function envelopeAttributes(m: EnvelopeMeta): Record<string, MessageAttributeValue> {
  return {
    job: { DataType: 'String', StringValue: m.job },
    firstKey: { DataType: 'String', StringValue: JSON.stringify(m.firstKey) },
    lastKey: { DataType: 'String', StringValue: JSON.stringify(m.lastKey) },
    rows: { DataType: 'Number', StringValue: String(m.rows) },
  };
}

/**
 * What the attributes add to a message's size as SQS counts it (name + data type + value, in
 * UTF-8 bytes): they count towards the 1 MiB limit and the 64 KiB billing chunks alike.
 */
export function attributesBytes(m: EnvelopeMeta): number {
  return attributesBytesOf(utf8(m.job), utf8(JSON.stringify(m.firstKey)), utf8(JSON.stringify(m.lastKey)), m.rows);
}

const FIXED_ATTRIBUTE_BYTES = 'job'.length + 'firstKey'.length + 'lastKey'.length + 'rows'.length + 3 * 'String'.length + 'Number'.length;

/** The same from byte counts a packer keeps, so it need not re-serialise keys for every row. */
export function attributesBytesOf(jobBytes: number, firstKeyBytes: number, lastKeyBytes: number, rows: number): number {
  return FIXED_ATTRIBUTE_BYTES + jobBytes + firstKeyBytes + lastKeyBytes + String(rows).length;
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'body is not a JSON object' };
  const p = parsed as { v?: unknown; job?: unknown; rows?: unknown };
  if (p.v !== ENVELOPE_VERSION) return { ok: false, reason: `unknown envelope version ${JSON.stringify(p.v ?? null)} (this forwarder reads v${ENVELOPE_VERSION})` };
  if (!Array.isArray(p.rows)) return { ok: false, reason: '"rows" is not an array' };
  const span = memberSpan(body, 'rows');
  if (!span) return { ok: false, reason: '"rows" not found at the top level' };
  const rows = splitJsonArray(body.slice(span[0], span[1]));
  if (rows.length !== p.rows.length) return { ok: false, reason: `rows could not be split (${rows.length} of ${p.rows.length})` };
  if (attributeRows !== undefined && Number(attributeRows) !== rows.length) {
    return { ok: false, reason: `the rows attribute says ${attributeRows} but the body holds ${rows.length}` };
  }
  return { ok: true, envelope: { v: p.v, job: typeof p.job === 'string' ? p.job : '', rows } };
}

/**
 * The [start, end) of a top-level member's value in an object's JSON text, found by tracking
 * strings and nesting (the body is already known to be valid JSON). JSON.parse cannot hand back
 * a value's source text on Node 20, and re-serialising rows would round big numbers.
 */
function memberSpan(text: string, name: string): [number, number] | undefined {
  let depth = 0;
  let keyStart = -1;
  let lastKey = '';
  let valueStart = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 1 && valueStart < 0) {
        keyStart = start;
        lastKey = JSON.parse(text.slice(start, i + 1)) as string;
      }
      continue;
    }
    if (c === ':' && depth === 1 && keyStart >= 0 && valueStart < 0) valueStart = i + 1;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    if ((c === ',' && depth === 1) || depth === 0) {
      if (valueStart >= 0 && lastKey === name) return [valueStart, i];
      if (c === ',') {
        valueStart = -1;
        keyStart = -1;
      }
    }
  }
  return undefined;
}
