import { describe, expect, it } from 'vitest';
import { retry, retrying, type Retry } from '../../src/retry/retrying.js';

const policy = { retries: 3, baseDelayMs: 20, maxDelayMs: 40, maxRetryAfterMs: 60 };

/** An attempt function scripted by a list of answers: 'retry', 'retry:<ms>', or a final value. */
function scripted(answers: string[]) {
  const calls: { n: number; at: number }[] = [];
  const attempt = async (n: number): Promise<string | Retry<string>> => {
    calls.push({ n, at: performance.now() });
    const a = answers[n - 1] ?? 'no more answers';
    if (a === 'retry') return retry(`failed ${n}`);
    if (a.startsWith('retry:')) return retry(`failed ${n}`, Number(a.slice(6)));
    return a;
  };
  return { attempt, calls };
}

describe('retrying', () => {
  it('returns the first final answer without waiting or counting a retry', async () => {
    const { attempt, calls } = scripted(['done']);
    const retries: number[] = [];
    expect(await retrying(policy, attempt, undefined, (n) => retries.push(n))).toBe('done');
    expect(calls.map((c) => c.n)).toEqual([1]);
    expect(retries).toEqual([]);
  });

  it('tries again until an answer is final, telling onRetry each retry number', async () => {
    const { attempt, calls } = scripted(['retry', 'retry', 'given up for good']);
    const retries: number[] = [];
    const answer = await retrying(policy, attempt, undefined, (n) => retries.push(n), { random: () => 0 });
    expect(answer).toBe('given up for good');
    expect(calls.map((c) => c.n)).toEqual([1, 2, 3]);
    expect(retries).toEqual([1, 2]);
  });

  it('stops after policy.retries retries and answers with the last failure', async () => {
    const { attempt, calls } = scripted(['retry', 'retry', 'retry', 'retry', 'never reached']);
    const retries: number[] = [];
    expect(await retrying(policy, attempt, undefined, (n) => retries.push(n), { random: () => 0 })).toBe('failed 4');
    expect(calls).toHaveLength(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it('waits the backoff with full jitter between attempts: random() scales the exponential ceiling', async () => {
    const { attempt, calls } = scripted(['retry', 'retry', 'done']);
    await retrying(policy, attempt, undefined, undefined, { random: () => 0.999 });
    // Ceilings: 20 ms after the first failure, 40 after the second (min(max 40, 20·2)).
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(18);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(38);
    const quick = scripted(['retry', 'retry', 'done']);
    const t0 = performance.now();
    await retrying(policy, quick.attempt, undefined, undefined, { random: () => 0 });
    expect(performance.now() - t0).toBeLessThan(30);
  });

  it('honours a Retry-After from the attempt, capped by maxRetryAfterMs', async () => {
    const { attempt, calls } = scripted(['retry:50', 'retry:5000', 'done']);
    await retrying(policy, attempt, undefined, undefined, { random: () => 0 });
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(48);
    const capped = calls[2]!.at - calls[1]!.at;
    expect(capped).toBeGreaterThanOrEqual(58);
    expect(capped).toBeLessThan(1000);
  });

  it('an abort cuts the wait short (an AbortError), and no further attempt is made', async () => {
    const slow = { ...policy, baseDelayMs: 10_000, maxDelayMs: 10_000 };
    const { attempt, calls } = scripted(['retry', 'done']);
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped')), 20);
    const t0 = performance.now();
    const waiting = retrying(slow, attempt, stop.signal, undefined, { random: () => 1 });
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(calls).toHaveLength(1);
  });

  it('starts from a first answer the caller got itself: the wait, then attempt 2', async () => {
    const { attempt, calls } = scripted(['unused', 'retry', 'done']);
    const retries: number[] = [];
    const options = { first: retry('failed 1'), random: () => 0 };
    const answer = await retrying(policy, attempt, undefined, (n) => retries.push(n), options);
    expect(answer).toBe('done');
    expect(calls.map((c) => c.n)).toEqual([2, 3]);
    expect(retries).toEqual([1, 2]);
    const spent = scripted([]);
    const none = { ...policy, retries: 0 };
    expect(await retrying(none, spent.attempt, undefined, undefined, { first: retry('failed 1') })).toBe('failed 1');
    expect(spent.calls).toHaveLength(0);
  });

  it('passes an attempt that throws straight through', async () => {
    const attempt = async (): Promise<string> => {
      throw new Error('fatal');
    };
    await expect(retrying(policy, attempt)).rejects.toThrow('fatal');
  });
});
