import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { BulkImportError, errorMessage } from '../errors.js';
import type { Batch, FailedRow, KeyTuple, Source } from '../types.js';
import { LazyBatch, idempotencyKeyFor } from './batch.js';
import { DEFAULT_MAX_LINE_BYTES, PendingLine, readLine, type LineBytes } from './ndjson-line.js';

export interface NdjsonSourceConfig {
  /** A file path, or `-` for standard input. */
  readonly path: string;
  readonly batchSize: number;
  readonly jobId: string;
  readonly stdin?: Readable;
  /** A longer line is a failed row (default DEFAULT_MAX_LINE_BYTES). */
  readonly maxLineBytes?: number;
}

/**
 * Newline-delimited JSON, one row per line. The key of a row is the byte offset just past its
 * line, so a resumed run seeks straight to the watermark instead of re-reading the file. Each
 * line is checked once (UTF-8, JSON, length) and sent as written; a line that fails the check is
 * a failed row with its line number, and reading carries on.
 */
export class NdjsonSource implements Source {
  readonly describe: string;

  constructor(private readonly config: NdjsonSourceConfig) {
    this.describe = config.path === '-' ? 'NDJSON from standard input' : `NDJSON file ${config.path}`;
  }

  async estimateTotal(): Promise<number | null> {
    return null;
  }

  /** Fails early, as one line, when the file is missing. */
  async open(): Promise<void> {
    if (this.config.path === '-') return;
    try {
      const s = await stat(this.config.path);
      if (!s.isFile()) throw new Error('not a regular file');
    } catch (err) {
      throw new BulkImportError('USAGE', `--from: cannot read ${this.config.path}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  async *batches(from: { after?: KeyTuple; limit?: number; signal: AbortSignal }): AsyncIterable<Batch> {
    const { path, batchSize, jobId } = this.config;
    const maxLineBytes = this.config.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const start = from.after ? Number(from.after[0]) : 0;
    const input: Readable =
      path === '-'
        ? (this.config.stdin ?? process.stdin)
        : createReadStream(path, { start, highWaterMark: 256 * 1024 });
    // A stop must not wait for a producer that has gone quiet (stdin from a pipe): end the read.
    const stop = () => input.destroy();
    from.signal.addEventListener('abort', stop, { once: true });
    const skipUntil = path === '-' ? start : 0; // stdin cannot seek: read and drop what was done
    let offset = path === '-' ? 0 : start;
    let remaining = from.limit ?? Number.POSITIVE_INFINITY;
    let lineNo = 0;
    let seq = 0;
    let rows: string[] = [];
    let rejected: FailedRow[] = [];
    let firstKey: KeyTuple = [];
    const pending = new PendingLine(maxLineBytes);
    const cut = (): LazyBatch => {
      const lastKey = [String(offset)];
      const key = idempotencyKeyFor(jobId, firstKey, lastKey);
      const batch = new LazyBatch(seq++, rows.length, firstKey, lastKey, key, { rows }, { rejected });
      rows = [];
      rejected = [];
      return batch;
    };
    /**
     * Takes one line. A line that cannot be a row is a failed row of the batch it falls in and
     * counts toward the batch size like any line, so a resumed run cuts the same batches.
     */
    const take = (line: LineBytes, length: number): void => {
      lineNo++;
      const lineStart = offset;
      offset += length;
      if (offset <= skipUntil) return;
      // Lines are cut on the byte 0x0A before decoding, so a character split across two reads
      // stays whole and offsets count bytes exactly.
      const row = readLine(line, { lineNo, byte: lineStart, start }, maxLineBytes);
      if (row === null) return;
      if (rows.length + rejected.length === 0) firstKey = [String(lineStart)];
      if (typeof row === 'string') rows.push(row);
      else rejected.push(row);
      remaining--;
    };
    try {
      for await (const chunk of input) {
        if (from.signal.aborted) break;
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        let from0 = 0;
        for (let nl = buf.indexOf(0x0a); nl >= 0 && remaining > 0; nl = buf.indexOf(0x0a, from0)) {
          const line = pending.end(buf.subarray(from0, nl));
          take(line, line.length + 1);
          from0 = nl + 1;
          if (rows.length + rejected.length === batchSize) yield cut();
        }
        if (remaining <= 0) break;
        pending.add(buf.subarray(from0));
      }
      if (pending.length > 0 && remaining > 0 && !from.signal.aborted) {
        const line = pending.end(Buffer.alloc(0));
        take(line, line.length);
      }
      if (rows.length + rejected.length > 0 && !from.signal.aborted) yield cut();
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
