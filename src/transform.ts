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

interface Settled {
  skipped: number;
  failed: FailedRow[];
}

const NOTHING: Settled = { skipped: 0, failed: [] };

/**
 * Runs the transform over each batch, keeping its seq and key range so the watermark and the
 * idempotency key are unchanged. Rows the transform skips or throws on are not sent; the
 * pipeline learns of them when the batch's receipt comes back (`settle`), so they are counted
 * (and the failures written) in the same step that moves the watermark past them.
 */
export function applyTransform(
  batches: AsyncIterable<Batch>,
  fn: TransformFn | undefined,
): { batches: AsyncIterable<Batch>; settle: (seq: number) => Settled } {
  if (!fn) return { batches, settle: () => NOTHING };
  const side = new Map<number, Settled>();
  async function* transformed(): AsyncIterable<Batch> {
    for await (const batch of batches) {
      const out: string[] = [];
      const settled: Settled = { skipped: 0, failed: [] };
      for (const row of batch.rows) {
        try {
          const payload = await fn!(JSON.parse(row) as Record<string, unknown>);
          if (payload === null || payload === undefined) settled.skipped++;
          else out.push(JSON.stringify(payload));
        } catch (err) {
          settled.failed.push({ row, status: null, error: `transform: ${errorMessage(err)}`, attempts: 1 });
        }
      }
      side.set(batch.seq, settled);
      yield new LazyBatch(batch.seq, out.length, batch.firstKey, batch.lastKey, batch.idempotencyKey, { rows: out });
    }
  }
  return {
    batches: transformed(),
    settle: (seq) => {
      const s = side.get(seq) ?? NOTHING;
      side.delete(seq);
      return s;
    },
  };
}
