import { open, type FileHandle } from 'node:fs/promises';
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
  count = 0;

  constructor(
    readonly path: string,
    private readonly redact: (text: string) => string,
  ) {}

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
    const head = JSON.stringify({ status: r.status, error: this.redact(r.error).slice(0, 500), attempts: r.attempts, at });
    // Splice the row's own text in rather than re-serialising it: bigints and numerics keep every digit.
    return `${head.slice(0, -1)},"row":${r.row}}\n`;
  }
}

/** Reads a failed file back as the rows' JSON texts (for replay), with line numbers in errors. */
export async function* readFailedRows(path: string): AsyncIterable<string> {
  const input = createReadStream(path, 'utf8');
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      const at = line.indexOf(',"row":');
      if (at < 0 || !line.endsWith('}')) throw new BulkImportError('USAGE', `${path} line ${n}: not a bulk-import failed-row line`);
      yield line.slice(at + 7, -1);
    }
  } catch (err) {
    if (err instanceof BulkImportError) throw err;
    throw new BulkImportError('USAGE', `cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    lines.close();
    input.destroy();
  }
}
