import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BulkImportError, errorMessage } from '../errors.js';
import type { Batch, KeyTuple, Source } from '../types.js';
import { LazyBatch, idempotencyKeyFor } from './batch.js';

export interface NdjsonSourceConfig {
  /** A file path, or `-` for standard input. */
  readonly path: string;
  readonly limit?: number;
  readonly batchSize: number;
  readonly jobId: string;
  readonly stdin?: Readable;
}

/**
 * Newline-delimited JSON, one row per line. The key of a row is the byte offset just past its
 * line, so a resumed run seeks straight to the watermark instead of re-reading the file. Each
 * line is parsed once to catch broken input early (with its line number), then sent as written.
 */
export class NdjsonSource implements Source {
  readonly describe: string;

  constructor(private readonly config: NdjsonSourceConfig) {
    this.describe = config.path === '-' ? 'NDJSON from standard input' : `NDJSON file ${config.path}`;
  }

  async estimateTotal(): Promise<number | null> {
    return this.config.limit ?? null;
  }

  /** Fails early, as one line, when the file is missing. */
  async open(): Promise<void> {
    if (this.config.path === '-') return;
    try {
      const s = await stat(this.config.path);
      if (!s.isFile()) throw new Error('not a regular file');
    } catch (err) {
      throw new BulkImportError('USAGE', `--from: cannot read ${this.config.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async *batches(from: { after?: KeyTuple; limit?: number; signal: AbortSignal }): AsyncIterable<Batch> {
    const { path, batchSize, jobId } = this.config;
    const start = from.after ? Number(from.after[0]) : 0;
    const input: Readable =
      path === '-' ? (this.config.stdin ?? process.stdin) : createReadStream(path, { start, highWaterMark: 256 * 1024 });
    // A stop must not wait for a producer that has gone quiet (stdin from a pipe): end the read.
    const stop = () => input.destroy();
    from.signal.addEventListener('abort', stop, { once: true });
    const skipUntil = path === '-' ? start : 0; // stdin cannot seek: read and drop what was done
    let offset = path === '-' ? 0 : start;
    let remaining = from.limit ?? this.config.limit ?? Number.POSITIVE_INFINITY;
    let lineNo = 0;
    let seq = 0;
    let rows: string[] = [];
    let firstKey: KeyTuple = [];
    let pending: Buffer = Buffer.alloc(0);
    const cut = (): LazyBatch => {
      const lastKey = [String(offset)];
      const batch = new LazyBatch(seq++, rows.length, firstKey, lastKey, idempotencyKeyFor(jobId, firstKey, lastKey), { rows });
      rows = [];
      return batch;
    };
    /** Takes one line's bytes (newline excluded); `length` is what it occupies in the file. */
    const take = (bytes: Buffer, length: number): void => {
      lineNo++;
      const lineStart = offset;
      offset += length;
      if (offset <= skipUntil) return;
      // Lines are cut on the byte 0x0A before decoding, so a character split across two reads
      // stays whole and offsets count bytes exactly (CRLF's \r is trimmed as white space).
      const line = bytes.toString('utf8').trim();
      if (line.length === 0) return;
      checkLine(line, lineNo, path, start);
      if (rows.length === 0) firstKey = [String(lineStart)];
      rows.push(line);
      remaining--;
    };
    try {
      for await (const chunk of input) {
        if (from.signal.aborted) break;
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        let from0 = 0;
        for (let nl = buf.indexOf(0x0a); nl >= 0 && remaining > 0; nl = buf.indexOf(0x0a, from0)) {
          const part = buf.subarray(from0, nl);
          const bytes = pending.length > 0 ? Buffer.concat([pending, part]) : part;
          pending = Buffer.alloc(0);
          take(bytes, bytes.length + 1);
          from0 = nl + 1;
          if (rows.length === batchSize) yield cut();
        }
        if (remaining <= 0) break;
        pending = Buffer.concat([pending, buf.subarray(from0)]);
      }
      if (pending.length > 0 && remaining > 0 && !from.signal.aborted) take(pending, pending.length);
      if (rows.length > 0 && !from.signal.aborted) yield cut();
    } catch (err) {
      if (from.signal.aborted) return; // the read was ended on purpose
      throw err;
    } finally {
      from.signal.removeEventListener('abort', stop);
      if (input !== process.stdin) input.destroy();
    }
  }

  async close(): Promise<void> {}
}

/** Line numbers count from where this run started reading (byte `start` of a resumed run). */
function checkLine(line: string, lineNo: number, path: string, start: number): void {
  try {
    JSON.parse(line);
  } catch (err) {
    const where = path === '-' ? 'standard input' : path;
    const at = start > 0 ? `line ${lineNo} after byte ${start}` : `line ${lineNo}`;
    throw new BulkImportError('BAD_INPUT', `${where} ${at}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
}
