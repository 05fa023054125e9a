import { receiptFor } from '../sink/receipt.js';
import type { Batch, FailedRow, Receipt } from '../types.js';
import { SQS_MAX_BYTES, type MessagePacker, type PackedMessage } from './message-packer.js';

/** SendMessageBatch takes at most 10 entries. */
export const MAX_ENTRIES = 10;

/**
 * Greedy packing of items into groups of at most `maxItems` and `maxBytes`: a group is closed
 * when the next item would break either limit. An item larger than `maxBytes` alone gets a group
 * of its own (whether the other side takes it is the caller's business). The one rule behind
 * SendMessageBatch calls (≤ 10 entries, ≤ 1 MiB), whether packed as a stream or from a list, and
 * behind the rejects queue's bodies.
 */
export class GroupPacker<T> {
  #items: T[] = [];
  #bytes = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.#items.length;
  }

  get full(): boolean {
    return this.#items.length >= this.maxItems;
  }

  /** Whether an item of `bytes` must start a new group (an empty group takes anything). */
  closesOn(bytes: number): boolean {
    return this.#items.length > 0 && (this.#items.length >= this.maxItems || this.#bytes + bytes > this.maxBytes);
  }

  add(item: T, bytes: number): void {
    this.#items.push(item);
    this.#bytes += bytes;
  }

  /** The group so far (possibly empty), and a fresh one started. */
  take(): Group<T> {
    const group = { items: this.#items, bytes: this.#bytes };
    this.#items = [];
    this.#bytes = 0;
    return group;
  }
}

export interface Group<T> {
  readonly items: T[];
  readonly bytes: number;
}

/** A list packed into groups by GroupPacker's rule, in order. */
export function packGroups<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  maxItems: number,
  maxBytes: number,
): Group<T>[] {
  const groups: Group<T>[] = [];
  const packer = new GroupPacker<T>(maxItems, maxBytes);
  for (const item of items) {
    const bytes = bytesOf(item);
    if (packer.closesOn(bytes)) groups.push(packer.take());
    packer.add(item, bytes);
  }
  if (packer.size > 0) groups.push(packer.take());
  return groups;
}

/** One SendMessageBatch call's worth of messages (≤ 10 entries, ≤ 1 MiB in total). */
export interface Call {
  readonly messages: readonly PackedMessage[];
  readonly bytes: number;
}

/** Receipts of batches whose rows all went out before this many pile up are flushed by an empty call. */
const READY_FLUSH = 32;

/**
 * Pulls source batches only as fast as calls are taken, packs their rows into messages and the
 * messages into calls. On `stop` it finishes the batch in hand and sends what it has packed, so
 * a graceful stop leaves no batch half enqueued.
 */
export async function* packCalls(
  batches: AsyncIterable<Batch>,
  packer: MessagePacker,
  tracker: ReceiptTracker,
  stop: AbortSignal,
): AsyncGenerator<Call> {
  const calls = new GroupPacker<PackedMessage>(MAX_ENTRIES, SQS_MAX_BYTES);
  const take = (): Call => {
    const { items, bytes } = calls.take();
    return { messages: items, bytes };
  };
  for await (const batch of batches) {
    tracker.open(batch);
    const { sealed, oversize } = packer.add(batch);
    for (const o of oversize) {
      tracker.failRow(
        o.batch,
        o.index,
        `row is ${o.bytes} bytes: larger than an SQS message can hold (${SQS_MAX_BYTES} bytes)`,
      );
    }
    for (const m of sealed) {
      if (calls.closesOn(m.bytes)) yield take();
      calls.add(m, m.bytes);
    }
    if (calls.full) yield take();
    else if (calls.size === 0 && tracker.ready >= READY_FLUSH) yield take();
    if (stop.aborted) break;
  }
  const last = packer.flush();
  if (last) {
    if (calls.closesOn(last.bytes)) yield take();
    calls.add(last, last.bytes);
  }
  if (calls.size > 0 || tracker.ready > 0) yield take();
}

interface Open {
  readonly batch: Batch;
  /** Rows neither enqueued nor failed yet; counted in rows, so a message split in two changes nothing. */
  unsettled: number;
  delivered: number;
  readonly failed: FailedRow[];
}

/**
 * The pipeline acknowledges source batches, SQS acknowledges messages: a batch's receipt is
 * ready once every message holding its rows has been enqueued (or has failed for good).
 */
export class ReceiptTracker {
  readonly #open = new Map<number, Open>();
  #ready: Receipt[] = [];

  get ready(): number {
    return this.#ready.length;
  }

  open(batch: Batch): void {
    this.#open.set(batch.seq, { batch, unsettled: batch.count, delivered: 0, failed: [] });
    this.#check(batch.seq);
  }

  failRow(batch: Batch, index: number, error: string): void {
    const o = this.#get(batch.seq);
    o.unsettled--;
    o.failed.push({ row: batch.rows[index] as string, status: null, error, attempts: 0 });
    this.#check(batch.seq);
  }

  enqueued(m: PackedMessage): void {
    for (const s of m.segments) {
      const o = this.#get(s.batch.seq);
      o.unsettled -= s.end - s.start;
      o.delivered += s.end - s.start;
      this.#check(s.batch.seq);
    }
  }

  /** Rows of a message SQS would not take, after retries or for its content. */
  failed(m: PackedMessage, error: string, attempts: number): void {
    for (const s of m.segments) {
      const o = this.#get(s.batch.seq);
      o.unsettled -= s.end - s.start;
      for (const row of s.batch.rows.slice(s.start, s.end)) o.failed.push({ row, status: null, error, attempts });
      this.#check(s.batch.seq);
    }
  }

  drain(): Receipt[] {
    const out = this.#ready;
    this.#ready = [];
    return out;
  }

  #get(seq: number): Open {
    const o = this.#open.get(seq);
    if (!o) throw new Error(`receipt tracker: batch ${seq} is not open`);
    return o;
  }

  #check(seq: number): void {
    const o = this.#open.get(seq);
    if (!o || o.unsettled > 0) return;
    this.#open.delete(seq);
    this.#ready.push(receiptFor(o.batch, { delivered: o.delivered, failed: o.failed }));
    // Every message holding its rows has its answer: nothing reads them again.
    o.batch.release?.();
  }
}
