import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Spaces request starts evenly at `perSecond` across all lanes. Each caller reserves the next
 * free slot and sleeps until it, so bursts cannot exceed the rate even after an idle spell.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  #nextSlot = 0;

  constructor(perSecond: number) {
    this.#intervalMs = 1000 / perSecond;
  }

  async take(signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    const slot = Math.max(now, this.#nextSlot);
    this.#nextSlot = slot + this.#intervalMs;
    const wait = slot - now;
    if (wait >= 1) await sleep(wait, undefined, { signal });
  }
}
