import type pg from 'pg';

/** The part of pg's Connection a submittable speaks the extended protocol through. */
interface ExtendedProtocol {
  readonly stream: { cork?(): void; uncork?(): void };
  parse(msg: { text: string; name: string; types: number[] }): void;
  bind(msg: { portal: string; statement: string; values: unknown[] }): void;
  execute(msg: { portal: string; rows: number }): void;
  sync(): void;
}

const SIGNATURE_BYTES = 11; // "PGCOPY\n\377\r\n\0"

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary)` and hands every row's raw bytes to a collector.
 *
 * Why: read as an ordinary result, each batch's JSON (tens of KB) is decoded into a JS string,
 * which then lives in the V8 heap until it is sent and has to be encoded back to bytes for the
 * socket. Measured here over 1M rows of ~520 bytes: 2.0 client CPU-s per million rows and a
 * 40 MB heap for the ordinary query, 0.5 CPU-s and an 11 MB heap for binary COPY, whose text
 * fields arrive as the very UTF-8 bytes the API is sent.
 *
 * A pg "submittable": pg's client hands it the connection and routes CopyData messages to it.
 * COPY takes no bind parameters, so callers inline values with quoteLiteral.
 *
 * It goes out by the extended protocol (Parse, Bind, Execute, Sync with no parameters), not as
 * a simple query: the server parses it as exactly one statement and refuses a second one
 * (42601) whatever text ended up inside it.
 */
export class CopyOutQuery<T> {
  readonly #text: string;
  readonly #rows: RowCollector<T>;
  #pending: Buffer | undefined;
  #headerSeen = false;
  #settled = false;
  #resolve!: (rows: T) => void;
  #reject!: (err: unknown) => void;
  readonly done: Promise<T>;

  constructor(query: string, rows: RowCollector<T>) {
    this.#rows = rows;
    this.#text = `COPY (${query}) TO STDOUT (FORMAT binary)`;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  submit(connection: ExtendedProtocol): void {
    // Corked so the four messages leave in one packet, as pg does for its own prepared queries.
    connection.stream.cork?.();
    try {
      connection.parse({ text: this.#text, name: '', types: [] });
      connection.bind({ portal: '', statement: '', values: [] });
      connection.execute({ portal: '', rows: 0 });
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    // pg reuses its read buffer for the next message: take what we keep out of it now.
    const buf = this.#pending ? Buffer.concat([this.#pending, msg.chunk]) : msg.chunk;
    this.#pending = undefined;
    let at = 0;
    if (!this.#headerSeen) {
      if (buf.length < SIGNATURE_BYTES + 8) {
        this.#pending = Buffer.from(buf);
        return;
      }
      at = SIGNATURE_BYTES + 4;
      at += 4 + buf.readInt32BE(at);
      this.#headerSeen = true;
    }
    while (at + 2 <= buf.length) {
      const fields = buf.readInt16BE(at);
      if (fields === -1) return; // the trailer
      const end = rowEnd(buf, at + 2, fields);
      if (end < 0) break; // a row cut across messages: wait for the rest
      this.#rows.add(buf, at + 2, fields, end);
      at = end;
    }
    if (at < buf.length) this.#pending = Buffer.from(buf.subarray(at));
  }

  handleError(err: unknown): void {
    this.#settle(() => this.#reject(err));
  }

  handleReadyForQuery(): void {
    this.#settle(() => this.#resolve(this.#rows.result()));
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(): void {}

  #settle(fn: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    fn();
  }
}

/** Where a CopyOutQuery puts each row it reads (`buf` is pg's: copy what is kept). */
export interface RowCollector<T> {
  /** A whole row: `fields` fields from `start` to `end`, each a 4-byte length (−1: NULL) and its bytes. */
  add(buf: Buffer, start: number, fields: number, end: number): void;
  result(): T;
}

/** Where the row starting at `start` ends in `buf`, or −1 when it is cut off there. */
function rowEnd(buf: Buffer, start: number, fields: number): number {
  let at = start;
  for (let i = 0; i < fields; i++) {
    if (at + 4 > buf.length) return -1;
    const len = buf.readInt32BE(at);
    at += 4;
    if (len < 0) continue;
    if (at + len > buf.length) return -1;
    at += len;
  }
  return at;
}

/**
 * A page of rows packed into buffers, with each field's start and length in a typed array:
 * nothing per row on the JS heap until a batch is asked for. Field 0 is the row's JSON, and goes
 * to the body buffer; with `glue` = the batch size (> 1) each run of `glue` rows is written there
 * as a JSON array, `[row,row,…]`, so a batch's body is a view of the page and nothing is joined.
 * The other fields (the key, as text) go to a buffer of their own.
 *
 * Why: read as strings, a page's rows (2,000 of ~0.5 KB) lived on the JS heap from the read to
 * their send, so the young generation copied and then promoted each one, and at batch size 1
 * garbage collection cost more than the rest of bulk-import's own work per request. Glued here,
 * a batch no longer needs PostgreSQL to group and sort rows into arrays (row_number, GROUP BY,
 * string_agg and array_agg … ORDER BY): 12–19 ms of the server's CPU per 2,000-row page where
 * rendering the rows alone takes 5–6 ms (EXPLAIN ANALYZE, this machine).
 */
export class PackedRows implements RowCollector<PackedRows> {
  /** Fields per row. */
  readonly width: number;
  /** Rows per JSON array in the body buffer; 0: the rows as they are (batch size 1). */
  readonly glue: number;
  #body: Buffer;
  #bodyUsed = 0;
  #keys: Buffer;
  #keysUsed = 0;
  /** Per field: start (in the body buffer for field 0, else the key buffer), then length (−1: NULL). */
  #spans: Int32Array;
  #count = 0;

  /**
   * `expect`: the rows and body bytes the page will likely hold (the last page's). Sized right, a
   * page is one allocation: grown by doubling, each page allocated ~3× its size outside the heap,
   * and V8 answers that much external memory with full collections (12 where 6 do, measured).
   */
  constructor(
    width: number,
    expect: { rows: number; bytes: number } = { rows: 512, bytes: 64 * 1024 },
    glue = 0,
    reuse?: Buffer,
  ) {
    this.width = width;
    this.glue = glue > 1 ? glue : 0;
    // `reuse`: the body buffer of a page whose rows are all sent (see PostgresKeysetSource).
    this.#body = reuse && reuse.length >= expect.bytes ? reuse : Buffer.allocUnsafe(Math.max(1024, expect.bytes));
    this.#keys = Buffer.allocUnsafe(Math.max(256, expect.rows * 16));
    this.#spans = new Int32Array(Math.max(64, expect.rows * width * 2));
  }

  /** Rows read. */
  get length(): number {
    return this.#count;
  }

  /** The body buffer itself, to be reused once nothing reads this page any more. */
  get bodyBuffer(): Buffer {
    return this.#body;
  }

  /** Bytes of the body buffer used. */
  get bytesUsed(): number {
    return this.#bodyUsed;
  }

  add(buf: Buffer, start: number, fields: number, end: number): void {
    this.#reserve(end - start + 2, 2 * fields);
    const glue = this.glue;
    const i = this.#count;
    let at = start;
    let span = i * 2 * this.width;
    for (let f = 0; f < fields; f++) {
      const len = buf.readInt32BE(at);
      at += 4;
      if (f === 0) {
        if (glue > 0) this.#body[this.#bodyUsed++] = i % glue === 0 ? 0x5b : 0x2c; // '[' opens a batch, ',' goes on
        this.#spans[span++] = this.#bodyUsed;
        this.#spans[span++] = len;
        if (len > 0) this.#bodyUsed += buf.copy(this.#body, this.#bodyUsed, at, at + len);
        if (glue > 0 && i % glue === glue - 1) this.#body[this.#bodyUsed++] = 0x5d; // ']'
      } else if (f < this.width) {
        this.#spans[span++] = this.#keysUsed;
        this.#spans[span++] = len;
        if (len > 0) this.#keysUsed += buf.copy(this.#keys, this.#keysUsed, at, at + len);
      }
      if (len > 0) at += len;
    }
    this.#count++;
  }

  result(): PackedRows {
    // The last batch of a short page: close its array.
    if (this.glue > 0 && this.#count % this.glue !== 0) this.#body[this.#bodyUsed++] = 0x5d;
    return this;
  }

  /** Row `row`'s JSON, as a view into the page (no copy). */
  json(row: number): Buffer {
    const i = row * this.width * 2;
    const start = this.#spans[i] as number;
    return this.#body.subarray(start, start + Math.max(0, this.#spans[i + 1] as number));
  }

  /** The JSON array of rows `first` … `last` (one glued batch), as a view into the page. */
  array(first: number, last: number): Buffer {
    const a = first * this.width * 2;
    const z = last * this.width * 2;
    return this.#body.subarray(
      (this.#spans[a] as number) - 1,
      (this.#spans[z] as number) + Math.max(0, this.#spans[z + 1] as number) + 1,
    );
  }

  /** Field `field` (≥ 1) of row `row` as UTF-8 text ('' for NULL). */
  text(row: number, field: number): string {
    const i = (row * this.width + field) * 2;
    const len = this.#spans[i + 1] as number;
    if (len <= 0) return '';
    const start = this.#spans[i] as number;
    return this.#keys.toString('utf8', start, start + len);
  }

  #reserve(bytes: number, spans: number): void {
    if (this.#bodyUsed + bytes > this.#body.length) this.#body = grown(this.#body, this.#bodyUsed, bytes);
    if (this.#keysUsed + bytes > this.#keys.length) this.#keys = grown(this.#keys, this.#keysUsed, bytes);
    const needed = (this.#count + 1) * this.width * 2;
    if (needed > this.#spans.length) {
      const more = new Int32Array(Math.max(2 * this.#spans.length, needed + spans));
      more.set(this.#spans);
      this.#spans = more;
    }
  }
}

/** A copy of `buf`'s first `used` bytes in a buffer with room for `more` after them (at least twice the size). */
function grown(buf: Buffer, used: number, more: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(2 * buf.length, used + more));
  buf.copy(next, 0, 0, used);
  return next;
}

/** Runs a CopyOutQuery on a client, queued behind whatever it is doing; the rows packed (`width` fields each; see PackedRows for `glue`). */
export function copyOutPacked(
  client: pg.Client,
  query: string,
  width: number,
  expect?: { rows: number; bytes: number },
  glue = 0,
  reuse?: Buffer,
): Promise<PackedRows> {
  const q = new CopyOutQuery(query, new PackedRows(width, expect, glue, reuse));
  client.query(q as unknown as pg.Submittable);
  return q.done;
}

/**
 * A text value as an SQL literal. Sessions run with standard_conforming_strings on (see
 * postgres-connect.ts), so a backslash is literal and only quotes need doubling; key text from
 * PostgreSQL never holds a NUL.
 */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
