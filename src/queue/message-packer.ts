import type { Batch } from '../types.js';
import { MAX_ENTRIES } from './call-packer.js';
import { BILLING_CHUNK } from './pricing.js';
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
  /** The envelope's text; made on demand (tests, isolation): sending writes `parts` straight out. */
  readonly body: string;
  /**
   * Runs of rows' JSON as UTF-8, comma-separated within a run: `rows` is these joined by commas.
   * Views of the bytes the source read (no copy, no JS string), written out escaped per call.
   */
  readonly parts: readonly Buffer[];
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
  /**
   * Rows per API request of the forwarder (`run --queue --batch-size`): a message holds a whole
   * multiple of it, so the forwarder cuts it into full requests only. An API batch that does not
   * fit the room left starts the next message; only when not even one fits an empty message does
   * the byte limit win and the message end inside it.
   */
  readonly apiBatch?: number;
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
 * into an array: a batch's JSON goes in whole when it fits, else it is cut at a row boundary
 * found by scanning only as far as the room left. The packer works on the batch's UTF-8 bytes
 * (the PostgreSQL source's own buffer): a batch decoded to text was a JS string (two bytes a
 * character once a row holds one non-ASCII character) that lived on the heap until SQS answered.
 */
export class MessagePacker {
  readonly #frame: number;
  readonly #jobBytes: number;
  #parts: Buffer[] = [];
  #segments: Segment[] = [];
  #bodyBytes = 0;
  #rows = 0;
  #firstKeyBytes = 0;
  /** The SendMessageBatch call the messages sealed so far go into, by packCalls' rule (see #sealed). */
  #callMessages = 0;
  #callBytes = 0;
  /** limits.apiBatch, until a message cannot hold one API batch (see #aligned). */
  #apiBatch: number;

  constructor(private readonly limits: PackerLimits) {
    this.#frame = utf8(envelopeHead(limits.job)) + utf8(ENVELOPE_TAIL);
    this.#jobBytes = utf8(limits.job);
    this.#apiBatch = limits.apiBatch ?? 1;
  }

  /** Adds a batch; returns the messages it filled, and rows too large to send at all. */
  add(batch: Batch): { sealed: PackedMessage[]; oversize: OversizeRow[] } {
    const sealed: PackedMessage[] = [];
    const oversize: OversizeRow[] = [];
    const keys = { first: utf8(JSON.stringify(batch.firstKey)), last: utf8(JSON.stringify(batch.lastKey)) };
    const run = batch.count === 0 ? undefined : rowRun(batch);
    const buf = run?.bytes as Buffer;
    const end = run?.end ?? 0;
    let at = run?.start ?? 0;
    let bytes = end - at;
    let start = 0;
    for (let rows = batch.count; rows > 0; ) {
      const room = this.#room(keys, batch.count);
      let cut: Cut | undefined;
      if (bytes <= room.bytes && rows <= room.rows) {
        const hold = this.#holdBack(rows, bytes, room);
        if (hold === 0) {
          this.#append(batch, keys.first, buf.subarray(at, end), start, start + rows);
          break;
        }
        cut = cutRows(buf, at, end, bytes, rows - hold);
      } else if (room.bytes > 0 && room.rows > 0 && !this.#hopeless(rows, bytes, room))
        cut = this.#aligned(buf, at, end, cutRows(buf, at, end, room.bytes, room.rows), room);
      if (!cut && this.#rows > 0) {
        sealed.push(this.#seal());
        continue;
      }
      if (cut) this.#append(batch, keys.first, buf.subarray(at, at + cut.bytes), start, start + cut.rows);
      else {
        // Not even one row fits an empty message of the target size: it goes alone, if SQS takes it.
        cut = cutRows(buf, at, end, Number.POSITIVE_INFINITY, 1) as Cut;
        if (this.#frame + cut.bytes + attributesBytesOf(this.#jobBytes, keys.first, keys.last, 1) > SQS_MAX_BYTES)
          oversize.push({ batch, index: start, bytes: cut.bytes });
        else this.#append(batch, keys.first, buf.subarray(at, at + cut.bytes), start, start + 1);
      }
      if (this.#rows > 0) sealed.push(this.#seal());
      at += cut.bytes + 1;
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

  /**
   * The cut shortened so the message ends on an API batch boundary; undefined (seal first) when
   * no boundary fits. An empty message keeps the cut: the byte limit wins over alignment.
   */
  #aligned(buf: Uint8Array, at: number, end: number, cut: Cut | undefined, room: Room): Cut | undefined {
    const g = this.#apiBatch;
    if (!cut || g === 1) return cut;
    if (this.#rows === 0 && cut.rows < g) {
      // Not one API batch fits a message: alignment is given up for the run, messages fill by
      // bytes. (A call's last message may be short of room by design: it fills to the boundary.)
      if (!room.closesCall) this.#apiBatch = 1;
      return cut;
    }
    const rows = Math.floor((this.#rows + cut.rows) / g) * g - this.#rows;
    const aligned = rows <= 0 ? undefined : rows === cut.rows ? cut : cutRows(buf, at, end, cut.bytes, rows);
    if (!room.closesCall) return aligned;
    // The call's last message: whole API batches unless they would waste more than 1 % of the
    // call's bill; then it is filled by bytes up to the chunk boundary, and only its last API
    // request is short.
    const call = this.#callBytes + room.used + (aligned?.bytes ?? 0);
    const waste = Math.ceil(call / BILLING_CHUNK) * BILLING_CHUNK - call;
    return waste <= call * MAX_WASTE ? aligned : cut;
  }

  /**
   * Whether the rows that would complete the message's API batch are, at this batch's average
   * row size, more than twice the room left: then the scan for a cut could only end in sealing
   * the message, and is skipped. Without it every batch was scanned for ~12 KB in vain (a 100-row
   * API batch of 520-byte rows never fits the 64 KiB message's remainder), a quarter of the bytes.
   * Rows that vary that much in size may seal a message a little early: only its fill suffers.
   */
  #hopeless(rows: number, bytes: number, room: Room): boolean {
    const g = this.#apiBatch;
    if (g === 1 || this.#rows === 0 || room.closesCall) return false;
    const missing = g - (this.#rows % g);
    return missing <= rows && missing * (bytes / rows) > 2 * room.bytes;
  }

  /**
   * Rows of a batch that fits whole to leave for the next message: those past the last API batch
   * boundary, when the room left after them could not take the rows that complete their API batch
   * (the message would have to end inside one). 0: take the batch whole.
   */
  #holdBack(rows: number, bytes: number, room: Room): number {
    const g = this.#apiBatch;
    const over = (this.#rows + rows) % g;
    // The call's last message is decided when it is cut (#aligned: whole batches or the boundary).
    if (g === 1 || over === 0 || over >= rows || room.closesCall) return 0;
    const missing = (g - over) * (bytes / rows) * 1.1;
    return room.bytes - bytes - 1 >= missing && g - over <= room.rows - rows ? 0 : over;
  }

  /**
   * Bytes and rows the current message can still take from this batch (its comma included).
   * With API batches to keep whole, the message that closes a SendMessageBatch call ends where
   * the call's payload reaches a 64 KiB boundary: SQS bills the call's chunks, rounded up.
   */
  #room(keys: { first: number; last: number }, batchRows: number): Room {
    const { messageBytes, rowsPerMessage } = this.limits;
    const apiBatch = this.#apiBatch;
    const firstKey = this.#rows === 0 ? keys.first : this.#firstKeyBytes;
    // The row count's digits are bounded by what the whole batch would make it.
    const attributes = attributesBytesOf(this.#jobBytes, firstKey, keys.last, this.#rows + batchRows);
    const used = this.#frame + this.#bodyBytes + (this.#parts.length > 0 ? 1 : 0) + attributes;
    const closesCall = apiBatch > 1 && this.#callMessages === MAX_ENTRIES - 1;
    const boundary = Math.floor((this.#callBytes + messageBytes) / BILLING_CHUNK) * BILLING_CHUNK - this.#callBytes;
    return {
      bytes: (closesCall && boundary > 0 ? Math.min(messageBytes, boundary) : messageBytes) - used,
      rows: rowsPerMessage === undefined ? Number.POSITIVE_INFINITY : rowsPerMessage - this.#rows,
      used,
      closesCall,
    };
  }

  #append(batch: Batch, firstKeyBytes: number, part: Buffer, start: number, end: number): void {
    if (this.#rows === 0) this.#firstKeyBytes = firstKeyBytes;
    if (this.#parts.length > 0) this.#bodyBytes += 1;
    this.#parts.push(part);
    this.#bodyBytes += part.length;
    this.#rows += end - start;
    const last = this.#segments.at(-1);
    if (last && last.batch === batch && last.end === start)
      this.#segments[this.#segments.length - 1] = { batch, start: last.start, end };
    else this.#segments.push({ batch, start, end });
  }

  #seal(): PackedMessage {
    const meta = metaOf(this.limits.job, this.#segments, this.#rows);
    const message = packedMessage(
      this.limits.job,
      this.#parts,
      meta,
      this.#frame + this.#bodyBytes + attributesBytes(meta),
      this.#segments,
    );
    this.#parts = [];
    this.#segments = [];
    this.#bodyBytes = 0;
    this.#rows = 0;
    this.#sealed(message.bytes);
    return message;
  }

  /** Follows the calls packCalls will make of the sealed messages (GroupPacker's rule). */
  #sealed(bytes: number): void {
    if (this.#callMessages > 0 && (this.#callMessages >= MAX_ENTRIES || this.#callBytes + bytes > SQS_MAX_BYTES)) {
      this.#callMessages = 0;
      this.#callBytes = 0;
    }
    this.#callMessages++;
    this.#callBytes += bytes;
  }
}

/** What the call's last message may leave unbilled-but-paid of the call, to keep API batches whole. */
const MAX_WASTE = 0.01;

interface Room {
  readonly bytes: number;
  readonly rows: number;
  /** Bytes the message holds already, frame and attributes included. */
  readonly used: number;
  /** Whether this message closes a SendMessageBatch call (see #room). */
  readonly closesCall: boolean;
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
  const parts = rows.map((r) => Buffer.from(r.batch.rows[r.index] as string, 'utf8'));
  const message = packedMessage(job, parts, meta, 0, segments);
  return { ...message, body: message.body, bytes: utf8(message.body) + attributesBytes(meta) };
}

/**
 * A batch's rows as one comma-separated run of UTF-8 bytes: its payload without the array's
 * brackets (and any blanks around them). The PostgreSQL source hands over bytes, which are used
 * as they are; a source that made text is encoded once.
 */
function rowRun(batch: Batch): { bytes: Buffer; start: number; end: number } {
  const p = batch.payload;
  const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  let start = 0;
  let end = bytes.length;
  while (start < end && isBlank(bytes[start] as number)) start++;
  while (end > start && isBlank(bytes[end - 1] as number)) end--;
  // `[` … `]`: the rows are what lies between.
  if (bytes[start] === 0x5b && bytes[end - 1] === 0x5d && end - start >= 2) {
    start++;
    end--;
  }
  while (start < end && isBlank(bytes[start] as number)) start++;
  while (end > start && isBlank(bytes[end - 1] as number)) end--;
  return { bytes, start, end };
}

const isBlank = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * A message holds its rows as the runs the packer cut from source batches (slices of each
 * batch's text, not copies): joining them into one body string per message would be one more
 * 64 KiB copy per message alive until SQS answers.
 */
function packedMessage(
  job: string,
  parts: readonly Buffer[],
  meta: EnvelopeMeta,
  bytes: number,
  segments: readonly Segment[],
): PackedMessage {
  let body: string | undefined;
  return {
    parts,
    meta,
    bytes,
    segments,
    get body() {
      body ??= envelopeBody(
        job,
        parts.map((p) => p.toString('utf8')),
      );
      return body;
    },
  };
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
