import type { Dispatcher } from 'undici';

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The start of the body of an answer that is not 2xx (for the failed-rows file); '' otherwise. */
  readonly text: string;
}

const KEEP_BYTES = 1024;

/**
 * An attempt that got no complete answer within `--timeout`. undici's headersTimeout and
 * bodyTimeout restart on every byte, so an API that drips a byte every few hundred ms would hold
 * a lane forever; this bounds the whole attempt (connect, send, headers, body).
 */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  readonly code = 'REQUEST_DEADLINE';
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms (--timeout)`);
  }
}

/**
 * A lane's watch over its attempts, which run one at a time: the stop signal and a deadline for
 * the whole attempt, each set up once per lane instead of once per request. A timer made and
 * cleared per attempt, and an abort listener added and removed per attempt, cost ~1 µs of CPU
 * and ~0.5 KB of garbage a request at batch size 1 (measured); here an attempt refreshes the
 * lane's one timer (it fires `deadlineMs` after the newest attempt began, finding nothing to do
 * if that attempt has ended) and the lane listens on the stop signal once.
 */
export class AttemptWatch {
  #timer: NodeJS.Timeout | undefined;
  #signal: AbortSignal | undefined;
  #current: Attempt | undefined;
  readonly #onAbort = (): void => {
    const signal = this.#signal;
    if (signal) this.#current?.abort(signal.reason);
  };
  readonly #onDeadline = (): void => {
    if (this.#current && this.deadlineMs !== undefined) this.#current.deadlinePassed(this.deadlineMs);
  };

  constructor(readonly deadlineMs?: number) {}

  /** Drops the timer and the listener: the lane is closed. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listen(undefined);
    this.#current = undefined;
  }

  begin(attempt: Attempt, signal: AbortSignal | undefined): void {
    this.#current = attempt;
    if (signal !== this.#signal) this.#listen(signal);
    if (this.deadlineMs === undefined) return;
    // refresh(): the same timer restarts its full delay from now, with nothing allocated.
    if (this.#timer) this.#timer.refresh().ref();
    else this.#timer = setTimeout(this.#onDeadline, this.deadlineMs);
  }

  end(attempt: Attempt): void {
    if (this.#current !== attempt) return;
    this.#current = undefined;
    // Left to fire idle: clearing it would mean a new timer for the next attempt. Unreferenced,
    // so an idle lane never keeps the process alive.
    this.#timer?.unref();
  }

  #listen(signal: AbortSignal | undefined): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }
}

/**
 * One request through undici's dispatch API, answered as a promise. `client.request()` wraps
 * every answer in a Readable stream and a few promises; at batch size 1 that is a measurable share
 * of the CPU a request costs here (bare `request()` 20 µs, `dispatch()` 17 µs). The body of a 2xx
 * answer is dropped as it arrives; of any other, the first KiB is kept as the error text.
 * `watch` (the lane's) aborts the attempt on its stop signal or past its deadline.
 */
export function dispatchOnce(
  client: Dispatcher,
  request: { path: string; method: string; headers: string[]; body?: string | Uint8Array | undefined },
  watch: AttemptWatch,
  signal?: AbortSignal,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const attempt = new Attempt(watch, signal, resolve, reject);
    watch.begin(attempt, signal);
    // Passed as it is (the caller's object may be reused for its next request): undici copies
    // every field it needs while dispatch() runs, and keeps no reference to the object.
    client.dispatch(request as Dispatcher.DispatchOptions, attempt);
  });
}

/** The headers of an attempt that got none (yet): shared, never written to. */
const NO_HEADERS: Readonly<Record<string, string | string[] | undefined>> = Object.freeze({});

/**
 * The handler of one attempt: a class, so an attempt is one object and not a closure per callback.
 * It is also the answer it resolves to (status, headers, text): one object less per request.
 */
class Attempt implements Dispatcher.DispatchHandler, Answer {
  status = 0;
  headers: Readonly<Record<string, string | string[] | undefined>> = NO_HEADERS;
  text = '';
  #kept: Buffer[] | undefined;
  #keptBytes = 0;
  #controller: Dispatcher.DispatchController | undefined;
  #late: DeadlineError | undefined;

  constructor(
    private readonly watch: AttemptWatch,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  /** The stop signal aborted (before the request started, onRequestStart sees the signal). */
  abort(reason: unknown): void {
    this.#controller?.abort(reason as Error);
  }

  deadlinePassed(ms: number): void {
    this.#late = new DeadlineError(ms);
    this.#controller?.abort(this.#late); // else: onRequestStart aborts, the connection came too late
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#late) controller.abort(this.#late);
    else if (this.signal?.aborted) controller.abort(this.signal.reason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx: the real answer follows
    this.status = statusCode;
    this.headers = headers;
    this.#kept = statusCode >= 300 ? [] : undefined;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#kept && this.#keptBytes < KEEP_BYTES) {
      this.#kept.push(chunk);
      this.#keptBytes += chunk.length;
    }
  }

  onResponseEnd(): void {
    this.watch.end(this);
    const kept = this.#kept;
    if (kept) this.text = Buffer.concat(kept).subarray(0, KEEP_BYTES).toString('utf8');
    this.resolve(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.watch.end(this);
    this.reject(this.signal?.aborted ? error : (this.#late ?? error));
  }
}
