import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { BulkImportError, errorMessage } from './errors.js';
import { LazyBatch } from './source/batch.js';
import type { Batch, FailedRow } from './types.js';

/** A `--transform` module's default export: row object → payload, or null/undefined to skip. */
export type TransformFn = (row: Record<string, unknown>) => unknown;

/** The default of `--transform-timeout`: a row whose transform has not settled by then fails. */
export const DEFAULT_TRANSFORM_TIMEOUT_MS = 30_000;

/** A `--transform` module and how long one row may take; `stop` ends a wait on it at once. */
export interface TransformSpec {
  readonly path: string;
  readonly timeoutMs: number;
  readonly stop?: AbortSignal;
}

/** Thrown into applyTransform when a stop arrives while a row's transform is pending. */
class TransformStopped extends Error {}

export async function loadTransform(spec: string | TransformSpec): Promise<TransformFn> {
  const { path, timeoutMs, stop } =
    typeof spec === 'string' ? { path: spec, timeoutMs: DEFAULT_TRANSFORM_TIMEOUT_MS } : spec;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new BulkImportError('USAGE', `--transform: cannot load ${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (typeof mod.default !== 'function')
    throw new BulkImportError('USAGE', `--transform: ${path} has no default export function (row) => payload`);
  return withDeadline(mod.default as TransformFn, timeoutMs, stop);
}

/**
 * A transform that answers within `timeoutMs` or throws, and throws TransformStopped as soon as
 * `stop` aborts. A promise that never settles would otherwise hold the pipeline for good: no
 * SIGINT gets through, and with nothing else pending Node exits 13 without a word.
 */
export function withDeadline(fn: TransformFn, timeoutMs: number, stop?: AbortSignal): TransformFn {
  return (row) => {
    if (stop?.aborted) return Promise.reject(new TransformStopped());
    return new Promise((resolveRow, rejectRow) => {
      const settle = () => {
        clearTimeout(timer);
        stop?.removeEventListener('abort', onStop);
      };
      const onStop = () => {
        settle();
        rejectRow(new TransformStopped());
      };
      const timer = setTimeout(() => {
        settle();
        rejectRow(new Error(`no answer after ${timeoutMs} ms (--transform-timeout)`));
      }, timeoutMs);
      stop?.addEventListener('abort', onStop, { once: true });
      Promise.resolve()
        .then(() => fn(row))
        .then(
          (value) => {
            settle();
            resolveRow(value);
          },
          (err: unknown) => {
            settle();
            rejectRow(err);
          },
        );
    });
  };
}

/**
 * Runs the transform over each batch, keeping its seq and key range so the watermark and the
 * idempotency key are unchanged. Rows the transform skips or throws on are not sent: they ride
 * on the batch (`skipped`, `rejected`) and the pipeline settles them with the batch's receipt.
 * On a stop the batch being transformed is dropped, not yielded: none of its rows is settled,
 * so the watermark stays before them and a resumed run transforms them again.
 */
export async function* applyTransform(
  batches: AsyncIterable<Batch>,
  fn: TransformFn,
  signal?: AbortSignal,
): AsyncIterable<Batch> {
  for await (const batch of batches) {
    const out: string[] = [];
    const rejected: FailedRow[] = [...(batch.rejected ?? [])];
    let skipped = batch.skipped ?? 0;
    for (const row of batch.rows) {
      if (signal?.aborted) return;
      try {
        const payload = await fn(JSON.parse(row) as Record<string, unknown>);
        if (payload === null || payload === undefined) {
          skipped++;
          continue;
        }
        // JSON.stringify gives undefined for a function, a symbol or a toJSON that returns undefined.
        const text = JSON.stringify(payload) as string | undefined;
        if (typeof text === 'string') out.push(text);
        else {
          const error = `transform: returned ${typeof payload}, which is not JSON`;
          rejected.push({ row, status: null, error, attempts: 1 });
        }
      } catch (err) {
        if (err instanceof TransformStopped) return;
        // The row as read, never the payload: the failed file must hold something replayable.
        rejected.push({ row, status: null, error: `transform: ${errorMessage(err)}`, attempts: 1 });
      }
    }
    yield new LazyBatch(
      batch.seq,
      out.length,
      batch.firstKey,
      batch.lastKey,
      batch.idempotencyKey,
      { rows: out },
      { rejected, skipped },
    );
  }
}
