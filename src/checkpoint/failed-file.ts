import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { BulkImportError, errorMessage } from '../errors.js';
import type { FailedRow } from '../types.js';

/**
 * The failed-rows file: NDJSON, one line per row that failed for good, appended across runs.
 * The row is embedded as the exact JSON text the source produced, so replay sends it unchanged.
 * Each batch of lines is one write to a file opened for append (O_APPEND), so lines from
 * concurrent writers never interleave; `sync` runs before every checkpoint write.
 */
export class FailedFileWriter {
  #file: FileHandle | undefined;
  #dirty = false;
  #chain: Promise<void> = Promise.resolve();
  #bytes = 0;
  count = 0;

  constructor(
    readonly path: string,
    private readonly redact: (text: string) => string,
  ) {}

  /** The file's size once every write so far has landed. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Learns the file's size before the run writes, after cutting it back to `keepBytes`: a resumed
   * run handles again the batches a kill -9 caught between writing their failures and the next
   * checkpoint, and their lines must not be in the file twice. The checkpoint records the size
   * that matches its counts (failedBytes).
   */
  async start(keepBytes?: number): Promise<void> {
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    if (keepBytes !== undefined && size > keepBytes) await truncate(this.path, keepBytes);
    this.#bytes = keepBytes !== undefined ? Math.min(size, keepBytes) : size;
  }

  /** Opened on the first failure, so a clean run leaves no empty file behind. */
  async #open(): Promise<FileHandle> {
    if (this.#file) return this.#file;
    try {
      this.#file = await open(this.path, 'a', 0o600);
      return this.#file;
    } catch (err) {
      throw new BulkImportError('USAGE', `--failed: cannot open ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  write(rows: readonly FailedRow[]): Promise<void> {
    if (rows.length === 0) return this.#chain;
    const at = new Date().toISOString();
    const text = rows.map((r) => this.#line(r, at)).join('');
    this.count += rows.length;
    this.#bytes += Buffer.byteLength(text);
    this.#chain = this.#chain.then(async () => {
      await (await this.#open()).write(text);
      this.#dirty = true;
    });
    return this.#chain;
  }

  async sync(): Promise<void> {
    await this.#chain;
    if (this.#dirty && this.#file) {
      this.#dirty = false;
      await this.#file.sync();
    }
  }

  async close(): Promise<void> {
    await this.sync();
    await this.#file?.close();
    this.#file = undefined;
  }

  #line(r: FailedRow, at: string): string {
    const fields = { status: r.status, error: this.redact(r.error).slice(0, 500), attempts: r.attempts, at };
    const head = JSON.stringify(r.unreadable ? { ...fields, unreadable: true } : fields);
    // Splice the row's own text in rather than re-serialising it: bigints and numerics keep every digit.
    return `${head.slice(0, -1)},"row":${r.row}}\n`;
  }
}

/** One line of a failed file: the row's JSON text, and whether it was never a row (see FailedRow.unreadable). */
export interface FailedLine {
  readonly row: string;
  readonly unreadable: boolean;
  readonly error: string;
}

/** Reads a failed file back as the rows' JSON texts (for replay), with line numbers in errors. */
export async function* readFailedRows(path: string): AsyncIterable<FailedLine> {
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      const at = line.indexOf(',"row":');
      if (at < 0 || !line.endsWith('}'))
        throw new BulkImportError('USAGE', `${path} line ${n}: not a bulk-import failed-row line`);
      const head = line.slice(0, at);
      // The head is a flat JSON object of our own making: parse it alone, never the row.
      let fields: { error?: unknown; unreadable?: unknown };
      try {
        fields = JSON.parse(`${head}}`) as typeof fields;
      } catch {
        throw new BulkImportError('USAGE', `${path} line ${n}: not a bulk-import failed-row line`);
      }
      yield { row: line.slice(at + 7, -1), unreadable: fields.unreadable === true, error: String(fields.error ?? '') };
    }
  } catch (err) {
    if (err instanceof BulkImportError) throw err;
    throw new BulkImportError('USAGE', `cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    lines.close();
    input.destroy();
  }
}
