/**
 * A Retry-After the API gave one request, held for every HTTP client that shares this brake:
 * none of them starts an attempt before it passes. `forward` gives one to all its pollers, so a
 * 429 or 503 with a Retry-After stops the whole process, not just the lane (fixed concurrency)
 * or the poller (auto) that got it: the API asked the client to wait, and the pollers are one
 * client to it. The limiters stay per poller; only the wait is shared.
 */
export class RetryAfterBrake {
  #until = 0;
  /** Holds that began while none was in force (a burst of answers extending one hold counts once). */
  holds = 0;

  /**
   * `maxMs`: the longest wait honoured, as the retry policy caps a lane's own (maxRetryAfterMs).
   * `now`: milliseconds, monotonic; performance.now by default.
   */
  constructor(
    private readonly maxMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** An answer asked for this long (ms): nobody starts an attempt before it has passed. */
  hold(retryAfterMs: number): void {
    const now = this.now();
    if (this.#until <= now) this.holds++;
    this.#until = Math.max(this.#until, now + Math.min(Math.max(0, retryAfterMs), this.maxMs));
  }

  /** Milliseconds until an attempt may start (0: now). */
  waitMs(): number {
    return Math.max(0, this.#until - this.now());
  }
}
