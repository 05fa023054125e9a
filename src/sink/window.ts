import type { LimitFunction } from 'p-limit';
import type { Batch, DeliverOptions, Receipt } from '../types.js';

/**
 * Runs `work` over items (batches, or queue mode's SendMessageBatch calls) with at most `limit.concurrency` in flight and yields receipts in
 * completion order. It pulls the next batch only when there is room, so the source never reads
 * ahead of the window; the limit can change while running (adaptive concurrency) and the window
 * follows at the next pull.
 *
 * On `signal` it stops pulling and lets in-flight work finish (their receipts are yielded). Work
 * that throws because `hardSignal` aborted is dropped without a receipt: its rows were not
 * acknowledged, so the watermark stays before them and a resume sends them again.
 */
export async function* deliverWindowed<T = Batch, R = Receipt>(
  batches: AsyncIterable<T>,
  limit: LimitFunction,
  work: (batch: T) => Promise<R>,
  opts: DeliverOptions,
): AsyncIterable<R> {
  const source = batches[Symbol.asyncIterator]();
  const done: R[] = [];
  let inFlight = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const stopWaiting = () => notify();
  opts.signal.addEventListener('abort', stopWaiting, { once: true });
  let exhausted = false;
  // With nothing in flight a pull is always allowed: the gate can hold work back, never stall it.
  const mayPull = () => inFlight === 0 || (opts.mayPull?.() ?? true);
  try {
    for (;;) {
      // Receipts first: the caller acknowledges them before the next pull, so a gate that counts
      // acknowledgements (mayPull) sees every completion, and none piles up unseen while pulling.
      while (done.length > 0) yield done.shift() as R;
      if (failure && inFlight === 0) throw failure.error;
      if (!exhausted && !failure && !opts.signal.aborted && inFlight < limit.concurrency && mayPull()) {
        let next: IteratorResult<T>;
        try {
          next = await source.next();
        } catch (error) {
          // A broken source: stop pulling, let what is in flight finish, then report it.
          failure = { error };
          exhausted = true;
          continue;
        }
        if (next.done) {
          exhausted = true;
          continue;
        }
        inFlight++;
        limit(() => work(next.value)).then(
          (receipt) => {
            inFlight--;
            done.push(receipt);
            notify();
          },
          (error: unknown) => {
            inFlight--;
            if (!opts.hardSignal.aborted) failure ??= { error };
            notify();
          },
        );
        continue;
      }
      if (inFlight === 0 && (exhausted || opts.signal.aborted || failure)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (done.length > 0 || inFlight === 0) notify();
      });
    }
  } finally {
    opts.signal.removeEventListener('abort', stopWaiting);
    if (!exhausted) await source.return?.();
  }
}
