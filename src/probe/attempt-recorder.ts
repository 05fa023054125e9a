import { AdaptiveLimit, type AttemptOutcome, LatencyHistogram } from '../http/adaptive-limit.js';

/** One step's attempts as the sticky client reported them. */
export interface AttemptCounts {
  attempts: number;
  /** 429, 502, 503, 504, timeouts and connection errors: the API (or its balancer) is over capacity. */
  overload: number;
  /** Other 5xx answers. */
  otherErrors: number;
  latency: LatencyHistogram;
}

export function emptyCounts(): AttemptCounts {
  return { attempts: 0, overload: 0, otherErrors: 0, latency: new LatencyHistogram() };
}

/**
 * The sticky client tells an adaptive limiter of every attempt (its latency and how it ended).
 * probe listens on that same seam and limits nothing: its concurrency is fixed per step, and a
 * Retry-After holds no lane, as in a `run` with a fixed --concurrency. `counts` is swapped per step.
 */
export class AttemptRecorder extends AdaptiveLimit {
  counts: AttemptCounts = emptyCounts();

  constructor() {
    super({ max: 1 });
  }

  override waitMs(): number {
    return 0;
  }

  override begin(): number {
    return performance.now();
  }

  override end(startedAt: number, outcome: AttemptOutcome): void {
    const c = this.counts;
    c.attempts++;
    if (outcome === 'overload') c.overload++;
    else if (outcome === 'other') c.otherErrors++;
    // Latency of answered attempts only: a timeout tells the deadline, not the API.
    if (outcome !== 'overload') c.latency.add(Math.max(0, performance.now() - startedAt));
  }
}
