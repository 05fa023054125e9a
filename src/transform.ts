import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { BulkImportError, errorMessage } from './errors.js';
import { LazyBatch } from './source/batch.js';
import type { Batch, FailedRow } from './types.js';

/** A `--transform` module's default export: row object → payload, or null/undefined to skip. */
export type TransformFn = (row: Record<string, unknown>) => unknown;

export async function loadTransform(path: string): Promise<TransformFn> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new BulkImportError('USAGE', `--transform: cannot load ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (typeof mod.default !== 'function') throw new BulkImportError('USAGE', `--transform: ${path} has no default export function (row) => payload`);
  return mod.default as TransformFn;
}

/**
 * Runs the transform over each batch, keeping its seq and key range so the watermark and the
 * idempotency key are unchanged. Rows the transform skips or throws on are not sent: they ride
 * on the batch (`skipped`, `rejected`) and the pipeline settles them with the batch's receipt.
 */
export async function* applyTransform(batches: AsyncIterable<Batch>, fn: TransformFn): AsyncIterable<Batch> {
  for await (const batch of batches) {
    const out: string[] = [];
    const rejected: FailedRow[] = [...(batch.rejected ?? [])];
    let skipped = batch.skipped ?? 0;
    for (const row of batch.rows) {
      try {
        const payload = await fn(JSON.parse(row) as Record<string, unknown>);
        if (payload === null || payload === undefined) skipped++;
        else out.push(JSON.stringify(payload));
      } catch (err) {
        rejected.push({ row, status: null, error: `transform: ${errorMessage(err)}`, attempts: 1 });
      }
    }
    yield new LazyBatch(batch.seq, out.length, batch.firstKey, batch.lastKey, batch.idempotencyKey, { rows: out }, { rejected, skipped });
  }
}
