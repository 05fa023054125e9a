import type { Batch, KeyTuple } from '../types.js';
import { attributesBytes, envelopeBody, envelopeHead, ENVELOPE_TAIL, utf8, type EnvelopeMeta } from './envelope.js';

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
 * filled to the limit whatever --batch-size is keep the bill at its floor. A batch that fits
 * whole is spliced in as its JSON text without splitting it into rows.
 */
export class MessagePacker {
  readonly #head: string;
  readonly #frame: number;
  #parts: string[] = [];
  #segments: Segment[] = [];
  #bodyBytes = 0;
  #rows = 0;
  #firstKey: KeyTuple = [];
  #lastKey: KeyTuple = [];

  constructor(private readonly limits: PackerLimits) {
    this.#head = envelopeHead(limits.job);
    this.#frame = utf8(this.#head) + utf8(ENVELOPE_TAIL);
  }

  /** Adds a batch; returns the messages it filled, and rows too large to send at all. */
  add(batch: Batch): { sealed: PackedMessage[]; oversize: OversizeRow[] } {
    const sealed: PackedMessage[] = [];
    const oversize: OversizeRow[] = [];
    if (batch.count === 0) return { sealed, oversize };
    const inner = batch.json.trim().slice(1, -1);
    const whole = utf8(inner);
    if (this.#fits(batch, whole, batch.count)) {
      this.#append(batch, inner, whole, 0, batch.count);
      return { sealed, oversize };
    }
    const rows = batch.rows;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as string;
      const bytes = utf8(row);
      if (!this.#fits(batch, bytes, 1) && this.#rows > 0) sealed.push(this.#seal());
      if (this.#rows === 0 && this.#sizeWith(batch, bytes, 1) > SQS_MAX_BYTES) {
        oversize.push({ batch, index: i, bytes });
        continue;
      }
      this.#append(batch, row, bytes, i, i + 1);
    }
    return { sealed, oversize };
  }

  /** The message being filled, if any (at the end of the input or on a stop). */
  flush(): PackedMessage | undefined {
    return this.#rows > 0 ? this.#seal() : undefined;
  }

  #fits(batch: Batch, bytes: number, rows: number): boolean {
    const { messageBytes, rowsPerMessage } = this.limits;
    if (rowsPerMessage !== undefined && this.#rows + rows > rowsPerMessage) return false;
    return this.#sizeWith(batch, bytes, rows) <= messageBytes;
  }

  #sizeWith(batch: Batch, bytes: number, rows: number): number {
    const first = this.#rows === 0 ? batch.firstKey : this.#firstKey;
    const commas = this.#parts.length;
    const meta = { job: this.limits.job, firstKey: first, lastKey: batch.lastKey, rows: this.#rows + rows };
    return this.#frame + this.#bodyBytes + commas + bytes + attributesBytes(meta);
  }

  #append(batch: Batch, text: string, bytes: number, start: number, end: number): void {
    if (this.#rows === 0) this.#firstKey = batch.firstKey;
    this.#lastKey = batch.lastKey;
    if (this.#parts.length > 0) this.#bodyBytes += 1;
    this.#parts.push(text);
    this.#bodyBytes += bytes;
    this.#rows += end - start;
    const last = this.#segments.at(-1);
    if (last && last.batch === batch && last.end === start) this.#segments[this.#segments.length - 1] = { batch, start: last.start, end };
    else this.#segments.push({ batch, start, end });
  }

  #seal(): PackedMessage {
    const meta: EnvelopeMeta = { job: this.limits.job, firstKey: this.#firstKey, lastKey: this.#lastKey, rows: this.#rows };
    const body = envelopeBody(this.limits.job, this.#parts);
    const message: PackedMessage = { body, meta, bytes: this.#frame + this.#bodyBytes + attributesBytes(meta), segments: this.#segments };
    this.#parts = [];
    this.#segments = [];
    this.#bodyBytes = 0;
    this.#rows = 0;
    return message;
  }
}

/**
 * Splits a message SQS refused for its content into two halves, so one bad row cannot take
 * hundreds of good ones down with it; a one-row message cannot be split.
 */
export function splitMessage(m: PackedMessage): [PackedMessage, PackedMessage] | undefined {
  if (m.meta.rows < 2) return undefined;
  const rows = m.segments.flatMap((s) => Array.from({ length: s.end - s.start }, (_, i) => ({ batch: s.batch, index: s.start + i })));
  const half = Math.ceil(rows.length / 2);
  return [messageOf(m.meta.job, rows.slice(0, half)), messageOf(m.meta.job, rows.slice(half))];
}

function messageOf(job: string, rows: readonly { batch: Batch; index: number }[]): PackedMessage {
  const first = rows[0] as { batch: Batch };
  const last = rows[rows.length - 1] as { batch: Batch };
  const meta: EnvelopeMeta = { job, firstKey: first.batch.firstKey, lastKey: last.batch.lastKey, rows: rows.length };
  const body = envelopeBody(job, rows.map((r) => r.batch.rows[r.index] as string));
  return { body, meta, bytes: utf8(body) + attributesBytes(meta), segments: rows.map((r) => ({ batch: r.batch, start: r.index, end: r.index + 1 })) };
}
