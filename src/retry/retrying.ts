import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type RetryPolicy } from '../http/retry-policy.js';

/**
 * An attempt's answer that asks for another try: `last` is what the caller gets if the retries
 * run out, `afterMs` a wait the other side asked for (Retry-After), which wins over the backoff.
 * Made only on the failure path, so a first attempt that succeeds allocates nothing here.
 */
export class Retry<T> {
  constructor(
    readonly last: T,
    readonly afterMs?: number,
  ) {}
}

export function retry<T>(last: T, afterMs?: number): Retry<T> {
  return new Retry(last, afterMs);
}

export interface RetryingOptions<T> {
  /**
   * The answer of attempt 1, made by the caller itself: a hot path awaits its first attempt
   * directly and enters the wrapper only when that asks for a retry, so a first success costs
   * no promise or closure more than an inline loop would (~90 ns a send, measured).
   */
  readonly first?: Retry<T>;
  /** For tests: the jitter's random source. */
  readonly random?: () => number;
}

/**
 * Runs `attempt(1)`, `attempt(2)`, … until one answers with anything but a `Retry` (done, or
 * given up for good: the caller's value says which), or until `policy.retries` retries are spent,
 * when the last `Retry`'s value is the answer. Between attempts it waits the policy's backoff
 * with full jitter (or the Retry-After, capped), and `onRetry(n)` is told first: retry counters
 * live with the callers. `signal` cuts a wait short (it rejects with an AbortError); an attempt
 * watches the signal itself while it runs. One loop for HTTP sends, SQS sends and SQS receives.
 */
export async function retrying<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T | Retry<T>>,
  signal?: AbortSignal,
  onRetry?: (n: number) => void,
  options?: RetryingOptions<T>,
): Promise<T> {
  let answer = options?.first ?? (await attempt(1));
  for (let n = 1; ; n++) {
    if (!(answer instanceof Retry)) return answer;
    if (n > policy.retries) return answer.last;
    onRetry?.(n);
    await sleep(backoffDelay(policy, n, answer.afterMs, options?.random), undefined, { signal });
    answer = await attempt(n + 1);
  }
}
