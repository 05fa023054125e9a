import { isUtf8 } from 'node:buffer';
import { errorMessage } from '../errors.js';
import { IMPORT_DEFAULTS } from '../config/defaults.js';
import type { FailedRow } from '../types.js';

/** The default of `--max-line-bytes`: a line longer than this is a failed row, not a row. */
export const DEFAULT_MAX_LINE_BYTES = IMPORT_DEFAULTS.maxLineBytes;

/** How much of an over-long line the failed file keeps, so the row can still be found. */
const HEAD_BYTES = 256;

/**
 * The bytes of the line being read, across reads. Chunks are kept in a list and joined once at
 * the newline: joining per read made a 50 MB line cost 20 s (quadratic). Past `max` bytes only
 * the first bytes and the length are kept, so a huge line costs no memory.
 */
export class PendingLine {
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(private readonly max: number) {}

  get length(): number {
    return this.#length;
  }

  add(part: Buffer): void {
    if (part.length === 0) return;
    if (this.#length <= this.max) {
      this.#chunks.push(part);
      // Crossing the cap: keep a copy of the head only (the chunks may be large).
      const total = this.#length + part.length;
      if (total > this.max) this.#chunks = [Buffer.concat(this.#chunks, Math.min(HEAD_BYTES, total))];
    }
    this.#length += part.length;
  }

  /** The whole line, given its last part (up to the newline), and resets for the next one. */
  end(last: Buffer): LineBytes {
    this.add(last);
    const length = this.#length;
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#length = 0;
    if (length > this.max) return { head: chunks[0] ?? Buffer.alloc(0), length };
    return { bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length), length };
  }
}

/** A line's bytes (newline excluded), or only its head when it is longer than the cap. */
export type LineBytes = { bytes: Buffer; length: number } | { head: Buffer; length: number };

/** Where a line is, for messages: line numbers count from where this run started reading. */
export interface LinePlace {
  readonly lineNo: number;
  readonly byte: number;
  /** The byte a resumed run started reading at (0 for a fresh run). */
  readonly start: number;
}

/**
 * A line as a row's JSON text, null for a blank line, or a failed row. A line that cannot be a
 * row goes to the failed file as a JSON string of its text (the failed file splices `row` in as
 * JSON), with `attempts: 0` (never sent) and an error that begins `NDJSON line `: that pair is how
 * `replay` can tell it from a row (a row too big for a queue message also has attempts 0, but its
 * error says so).
 */
export function readLine(line: LineBytes, place: LinePlace, maxLineBytes: number): string | null | FailedRow {
  if ('head' in line) {
    const kept = line.head.length;
    const why = `${line.length} bytes, over --max-line-bytes ${maxLineBytes} (row holds its first ${kept} bytes)`;
    return unreadable(line.head.toString('utf8'), place, why);
  }
  const text = line.bytes.toString('utf8');
  // Checked on the bytes (simdutf: cheap); decoding alone would turn bad bytes into U+FFFD silently.
  if (!isUtf8(line.bytes)) {
    return unreadable(text, place, `invalid UTF-8 at byte ${firstInvalidByte(line.bytes, text)} of the line`);
  }
  const trimmed = text.trim(); // CRLF's \r is trimmed as white space
  if (trimmed.length === 0) return null;
  try {
    JSON.parse(trimmed);
  } catch (err) {
    return unreadable(trimmed, place, `not valid JSON (${errorMessage(err)})`);
  }
  return trimmed;
}

function unreadable(text: string, place: LinePlace, why: string): FailedRow {
  const from = place.start > 0 ? ` counted from byte ${place.start}` : '';
  const error = `NDJSON line ${place.lineNo}${from} (at byte ${place.byte}): ${why}`;
  return { row: JSON.stringify(text), status: null, error, attempts: 0, unreadable: true };
}

/**
 * The byte offset of the first invalid sequence: the first U+FFFD of the decoded text that is
 * not an encoded U+FFFD (EF BF BD) in the bytes. Only run on a line already known to be bad.
 */
function firstInvalidByte(bytes: Buffer, text: string): number {
  let byte = 0;
  let from = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) {
    byte += Buffer.byteLength(text.slice(from, i));
    from = i;
    if (!(bytes[byte] === 0xef && bytes[byte + 1] === 0xbf && bytes[byte + 2] === 0xbd)) return byte;
  }
  return byte;
}
