import { stat } from 'node:fs/promises';
import { readFailedRows } from '../checkpoint/failed-file.js';
import { BulkImportError, errorMessage } from '../errors.js';
import type { Batch, FailedRow, KeyTuple, Source } from '../types.js';
import { LazyBatch, idempotencyKeyFor } from './batch.js';

/** A failed-rows file as a source, for `replay`: the key of a row is its line number. */
export class FailedRowsSource implements Source {
  readonly describe: string;

  constructor(private readonly config: { path: string; batchSize: number; jobId: string }) {
    this.describe = `failed rows in ${config.path}`;
  }

  async open(): Promise<void> {
    await stat(this.config.path).catch((err: unknown) => {
      throw new BulkImportError('USAGE', `cannot read ${this.config.path}: ${errorMessage(err)}`, { cause: err });
    });
  }

  async estimateTotal(): Promise<number | null> {
    return null;
  }

  async *batches(from: { after?: KeyTuple; signal: AbortSignal }): AsyncIterable<Batch> {
    const { batchSize, jobId } = this.config;
    const skip = from.after ? Number(from.after[0]) : 0;
    let n = 0;
    let seq = 0;
    let rows: string[] = [];
    let rejected: FailedRow[] = [];
    let first = 0;
    const cut = () => {
      const firstKey = [String(first)];
      const lastKey = [String(n)];
      const key = idempotencyKeyFor(jobId, firstKey, lastKey);
      const b = new LazyBatch(seq++, rows.length, firstKey, lastKey, key, { rows }, { rejected });
      rows = [];
      rejected = [];
      return b;
    };
    for await (const line of readFailedRows(this.config.path)) {
      n++;
      if (n <= skip) continue;
      if (from.signal.aborted) return;
      if (rows.length + rejected.length === 0) first = n;
      // A line that was never a row cannot be sent: it fails again, pointing at the fix.
      if (line.unreadable)
        rejected.push({
          row: line.row,
          status: null,
          error: `not a row, fix the line first: ${line.error}`,
          attempts: 0,
          unreadable: true,
        });
      else rows.push(line.row);
      if (rows.length + rejected.length === batchSize) yield cut();
    }
    if (rows.length + rejected.length > 0 && !from.signal.aborted) yield cut();
  }

  async close(): Promise<void> {}
}
