import type { Batch } from '../types.js';
import { cutRows, type Cut } from './cut-rows.js';
import {
  attributesBytes,
  attributesBytesOf,
  envelopeBody,
  envelopeHead,
  ENVELOPE_TAIL,
  utf8,
  type EnvelopeMeta,
} from './envelope.js';

/** SQS's hard limit for one message and for one SendMessageBatch call (body + attributes). */
export const SQS_MAX_BYTES = 1_048_576;

/** Rows [start, end) of one source batch. */
export interface Segment {
  readonly batch: Batch;
  readonly start: number;
  readonly end: number;
}

export interface PackedMessage {
  readonly body: string;
  readonly meta: EnvelopeMeta;
  /** Body plus attributes, as SQS counts a message's size (and bills it). */
  readonly bytes: number;
  readonly segments: readonly Segment[];
}

export interface PackerLimits {
  readonly job: string;
  /** Target size per message, attributes included; a single larger row still goes alone, up to SQS_MAX_BYTES. */
  readonly messageBytes: number;
  readonly rowsPerMessage?: number;
}

/** A row too large for any message: a failure of that row, not of the run. */
export interface OversizeRow {
  readonly batch: Batch;
  readonly index: number;
  readonly bytes: number;
}

/**
 * Packs rows of consecutive batches into envelopes of at most `messageBytes`. A message may hold
 * the end of one batch and the start of the next: SQS bills every 64 KiB of a call, so messages
 * filled to the limit whatever --batch-size is keep the bill at its floor. Rows are never split
 * into an array: a batch's JSON text goes in whole when it fits, else it is cut at a row boundary
 * found by scanning only as far as the room left.
 */
export class MessagePacker {
  readonly #frame: number;
  readonly #jobBytes: number;
  #parts: string[] = [];
  #segments: Segment[] = [];
  #bodyBytes = 0;
  #rows = 0;
  #firstKeyBytes = 0;

  constructor(private readonly limits: PackerLimits) {
    this.#frame = utf8(envelopeHead(limits.job)) + utf8(ENVELOPE_TAIL);
    this.#jobBytes = utf8(limits.job);
  }

  /** Adds a batch; returns the messages it filled, and rows too large to send at all. */
  add(batch: Batch): { sealed: PackedMessage[]; oversize: OversizeRow[] } {
    const sealed: PackedMessage[] = [];
    const oversize: OversizeRow[] = [];
    const keys = { first: utf8(JSON.stringify(batch.firstKey)), last: utf8(JSON.stringify(batch.lastKey)) };
    let text = batch.count === 0 ? '' : batch.json.trim().slice(1, -1);
    let bytes = utf8(text);
    let start = 0;
    for (let rows = batch.count; rows > 0; ) {
      const room = this.#room(keys, batch.count);
      if (bytes <= room.bytes && rows <= room.rows) {
        this.#append(batch, keys.first, text, bytes, start, start + rows);
        break;
      }
      let cut = room.bytes > 0 && room.rows > 0 ? cutRows(text, room.bytes, room.rows) : undefined;
      if (!cut && this.#rows > 0) {
        sealed.push(this.#seal());
        continue;
      }
      if (cut) this.#append(batch, keys.first, text.slice(0, cut.chars), cut.bytes, start, start + cut.rows);
      else {
        // Not even one row fits an empty message of the target size: it goes alone, if SQS takes it.
        cut = cutRows(text, Number.POSITIVE_INFINITY, 1) as Cut;
        if (this.#frame + cut.bytes + attributesBytesOf(this.#jobBytes, keys.first, keys.last, 1) > SQS_MAX_BYTES)
          oversize.push({ batch, index: start, bytes: cut.bytes });
        else this.#append(batch, keys.first, text.slice(0, cut.chars), cut.bytes, start, start + 1);
      }
      if (this.#rows > 0) sealed.push(this.#seal());
      text = text.slice(cut.chars + 1);
      bytes -= cut.bytes + 1;
      start += cut.rows;
      rows -= cut.rows;
    }
    return { sealed, oversize };
  }

  /** The message being filled, if any (at the end of the input or on a stop). */
  flush(): PackedMessage | undefined {
    return this.#rows > 0 ? this.#seal() : undefined;
  }

  /** Bytes and rows the current message can still take from this batch (its comma included). */
  #room(keys: { first: number; last: number }, batchRows: number): { bytes: number; rows: number } {
    const { messageBytes, rowsPerMessage } = this.limits;
    const firstKey = this.#rows === 0 ? keys.first : this.#firstKeyBytes;
    // The row count's digits are bounded by what the whole batch would make it.
    const attributes = attributesBytesOf(this.#jobBytes, firstKey, keys.last, this.#rows + batchRows);
    const used = this.#frame + this.#bodyBytes + (this.#parts.length > 0 ? 1 : 0) + attributes;
    return {
      bytes: messageBytes - used,
      rows: rowsPerMessage === undefined ? Number.POSITIVE_INFINITY : rowsPerMessage - this.#rows,
    };
  }

  #append(batch: Batch, firstKeyBytes: number, text: string, bytes: number, start: number, end: number): void {
    if (this.#rows === 0) this.#firstKeyBytes = firstKeyBytes;
    if (this.#parts.length > 0) this.#bodyBytes += 1;
    this.#parts.push(text);
    this.#bodyBytes += bytes;
    this.#rows += end - start;
    const last = this.#segments.at(-1);
    if (last && last.batch === batch && last.end === start)
      this.#segments[this.#segments.length - 1] = { batch, start: last.start, end };
    else this.#segments.push({ batch, start, end });
  }

  #seal(): PackedMessage {
    const meta = metaOf(this.limits.job, this.#segments, this.#rows);
    const body = envelopeBody(this.limits.job, this.#parts);
    const message: PackedMessage = {
      body,
      meta,
      bytes: this.#frame + this.#bodyBytes + attributesBytes(meta),
      segments: this.#segments,
    };
    this.#parts = [];
    this.#segments = [];
    this.#bodyBytes = 0;
    this.#rows = 0;
    return message;
  }
}

/** One row of a source batch, by position. */
export interface RowRef {
  readonly batch: Batch;
  readonly index: number;
}

/** The rows of a message, one by one (to send a refused message's rows in smaller pieces). */
export function rowsOf(m: PackedMessage): RowRef[] {
  return m.segments.flatMap((s) =>
    Array.from({ length: s.end - s.start }, (_, i) => ({ batch: s.batch, index: s.start + i })),
  );
}

/** A message of the given rows, as the packer would have sealed it. */
export function messageOf(job: string, rows: readonly RowRef[]): PackedMessage {
  const segments: Segment[] = [];
  for (const r of rows) {
    const last = segments.at(-1);
    const joins = last && last.batch === r.batch && last.end === r.index;
    if (joins) segments[segments.length - 1] = { batch: r.batch, start: last.start, end: r.index + 1 };
    else segments.push({ batch: r.batch, start: r.index, end: r.index + 1 });
  }
  const meta = metaOf(job, segments, rows.length);
  const body = envelopeBody(
    job,
    rows.map((r) => r.batch.rows[r.index] as string),
  );
  return { body, meta, bytes: utf8(body) + attributesBytes(meta), segments };
}

/**
 * The attributes of a message from its segments: exact first/last keys only where the message
 * starts or ends on a batch boundary (see envelope.ts), and the batches' bounds always.
 */
function metaOf(job: string, segments: readonly Segment[], rows: number): EnvelopeMeta {
  const first = segments[0] as Segment;
  const last = segments[segments.length - 1] as Segment;
  // A batch the transform thinned has keys that may belong to rows no longer in it.
  const whole = (b: Batch) => !b.skipped && (b.rejected?.length ?? 0) === 0;
  return {
    job,
    rows,
    range: [first.batch.firstKey, last.batch.lastKey],
    ...(first.start === 0 && whole(first.batch) ? { firstKey: first.batch.firstKey } : {}),
    ...(last.end === last.batch.count && whole(last.batch) ? { lastKey: last.batch.lastKey } : {}),
  };
}
