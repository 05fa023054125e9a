import type { Batch, DeliverOptions, Receipt } from '../types.js';

/** What the window reads its in-flight limit from: a p-limit function, or anything with the number. */
export interface WindowLimit {
  readonly concurrency: number;
}

/**
 * Runs `work` over items (batches, or queue mode's SendMessageBatch calls) with at most `limit.concurrency` in flight and yields receipts in
 * completion order. It pulls the next batch only when there is room, so the source never reads
 * ahead of the window; the limit can change while running (adaptive concurrency) and the window
 * follows at the next pull.
 *
 * On `signal` it stops pulling and lets in-flight work finish (their receipts are yielded). Work
 * that throws because `hardSignal` aborted is dropped without a receipt: its rows were not
 * acknowledged, so the watermark stays before them and a resume sends them again.
 *
 * The window counts what is in flight itself and starts `work` directly: going through the
 * p-limit function as well cost ~0.6 KB and five promises a batch for a queue that never held
 * anything (the window never starts more than the limit). It is an iterator object, not an async
 * generator: a generator's `yield` awaits its value and queues the caller's request, two more
 * promises and microtask turns per receipt, which at batch size 1 is per request.
 */
export function deliverWindowed<T = Batch, R = Receipt>(
  batches: AsyncIterable<T>,
  limit: WindowLimit,
  work: (batch: T) => Promise<R>,
  opts: DeliverOptions,
): AsyncIterableIterator<R> {
  return new Window(batches[Symbol.asyncIterator](), limit, work, opts);
}

class Window<T, R> implements AsyncIterableIterator<R> {
  /** Receipts not yet handed to the caller, oldest first (`#head` is the next one). */
  #done: R[] = [];
  #head = 0;
  #inFlight = 0;
  #exhausted = false;
  #finished = false;
  #failure: { error: unknown } | undefined;
  /** The caller's pending next(), while nothing is ready for it. */
  #wake: (() => void) | undefined;
  readonly #onDone = (receipt: R): void => {
    this.#inFlight--;
    this.#done.push(receipt);
    this.#notify();
  };
  readonly #onFail = (error: unknown): void => {
    this.#inFlight--;
    if (!this.opts.hardSignal.aborted) this.#failure ??= { error };
    this.#notify();
  };
  readonly #stopWaiting = (): void => this.#notify();

  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly limit: WindowLimit,
    private readonly work: (batch: T) => Promise<R>,
    private readonly opts: DeliverOptions,
  ) {
    opts.signal.addEventListener('abort', this.#stopWaiting, { once: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<R> {
    return this;
  }

  /**
   * One call at a time, as `for await` makes them. Receipts first: one is handed over before any pull, and the caller acknowledges it before it
   * asks again, so a gate that counts acknowledgements (mayPull) sees every completion, and none
   * piles up unseen while pulling. A ready receipt costs one settled promise, nothing more.
   */
  next(): Promise<IteratorResult<R>> {
    if (this.#head < this.#done.length) return Promise.resolve({ value: this.#take(), done: false });
    return this.#advance();
  }

  async return(): Promise<IteratorResult<R>> {
    await this.#finish();
    return { value: undefined, done: true };
  }

  async #advance(): Promise<IteratorResult<R>> {
    try {
      for (;;) {
        if (this.#head < this.#done.length) return { value: this.#take(), done: false };
        if (this.#finished) return { value: undefined, done: true };
        if (this.#failure && this.#inFlight === 0) throw this.#failure.error;
        if (this.#mayPull()) {
          let next: IteratorResult<T>;
          try {
            next = await this.source.next();
          } catch (error) {
            // A broken source: stop pulling, let what is in flight finish, then report it.
            this.#failure = { error };
            this.#exhausted = true;
            continue;
          }
          if (next.done) {
            this.#exhausted = true;
            continue;
          }
          this.#inFlight++;
          let sent: Promise<R>;
          try {
            sent = this.work(next.value);
          } catch (error) {
            sent = Promise.reject(error); // work that throws at once fails like work that rejects
          }
          sent.then(this.#onDone, this.#onFail);
          continue;
        }
        if (this.#inFlight === 0 && (this.#exhausted || this.opts.signal.aborted || this.#failure)) {
          await this.#finish();
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } catch (error) {
      await this.#finish();
      throw error;
    }
  }

  #mayPull(): boolean {
    if (this.#exhausted || this.#failure || this.opts.signal.aborted) return false;
    // With nothing in flight a pull is always allowed: the gate can hold work back, never stall it.
    if (this.#inFlight === 0) return true;
    return this.#inFlight < this.limit.concurrency && (this.opts.mayPull?.() ?? true);
  }

  #take(): R {
    const receipt = this.#done[this.#head] as R;
    this.#done[this.#head++] = undefined as R; // let it go: the array is reused
    if (this.#head === this.#done.length) {
      this.#done.length = 0;
      this.#head = 0;
    }
    return receipt;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.opts.signal.removeEventListener('abort', this.#stopWaiting);
    if (!this.#exhausted) await this.source.return?.();
  }
}
