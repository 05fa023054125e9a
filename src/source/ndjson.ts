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

  async *batches(from: { after?: KeyTuple; signal: AbortSignal }): AsyncIterable<Batch> {
    const { path, batchSize, jobId } = this.config;
    const start = from.after ? Number(from.after[0]) : 0;
    const input: Readable =
      path === '-' ? (this.config.stdin ?? process.stdin) : createReadStream(path, { start, highWaterMark: 256 * 1024 });
    let offset = path === '-' ? 0 : start;
    let skipUntil = path === '-' ? start : 0; // stdin cannot seek: read and drop what was done
    let remaining = this.config.limit ?? Number.POSITIVE_INFINITY;
    let lineNo = 0;
    let seq = 0;
    let rows: string[] = [];
    let firstKey: KeyTuple = [];
    let pending = '';
    const cut = (): LazyBatch => {
      const lastKey = [String(offset)];
      const batch = new LazyBatch(seq++, rows.length, firstKey, lastKey, idempotencyKeyFor(jobId, firstKey, lastKey), { rows });
      rows = [];
      return batch;
    };
    try {
      for await (const chunk of input) {
        if (from.signal.aborted) break;
        pending += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0 && remaining > 0) {
          const raw = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          lineNo++;
          const lineStart = offset;
          offset += Buffer.byteLength(raw, 'utf8') + 1;
          if (offset <= skipUntil) continue;
          const line = raw.trim();
          if (line.length === 0) continue;
          checkLine(line, lineNo, path, start);
          if (rows.length === 0) firstKey = [String(lineStart)];
          rows.push(line);
          remaining--;
          if (rows.length === batchSize) yield cut();
        }
        if (remaining <= 0) break;
      }
      const tail = pending.trim();
      if (tail.length > 0 && remaining > 0 && !from.signal.aborted) {
        lineNo++;
        checkLine(tail, lineNo, path, start);
        if (rows.length === 0) firstKey = [String(offset)];
        offset += Buffer.byteLength(pending, 'utf8');
        rows.push(tail);
      }
      if (rows.length > 0 && !from.signal.aborted) yield cut();
    } finally {
      if (input !== process.stdin) input.destroy();
      skipUntil = 0;
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
