import type { StickyMode } from '../http/cookie-lanes.js';

/**
 * The rules probe judges its steps by, kept pure so they can be tested on made-up tables.
 *
 * - The knee of a sweep (one batch size, one sticky mode) is the smallest concurrency whose rows/s
 *   reach 95 % of that sweep's best: past it, more in flight buys under 5 % and only fills the API's
 *   queues (latency) or overflows them (503s). Steps over 5 % overload answers do not count.
 * - A sweep stops when a step's overload answers exceed 5 % of its attempts (going further only
 *   hurts the API), when rows/s has not risen for two steps in a row (by more than 5 % over the
 *   best so far), or at the top concurrency.
 * - Stickiness matters when one mode's best rows/s is at least 15 % above the other's: more than
 *   the noise between two steps of the same setting on a shared machine.
 */
export const KNEE_SHARE = 0.95;
export const STOP_ERROR_RATE = 0.05;
export const RISE = 1.05;
export const STICKY_MATTERS = 1.15;

/** What the rules need of a step. */
export interface StepFigures {
  readonly concurrency: number;
  readonly rowsPerSec: number;
  /** Overload answers (429, 502–504, timeouts, connection errors) per attempt, 0..1. */
  readonly errorRate: number;
}

export type SweepStop = 'errors' | 'flat' | 'max concurrency';

/**
 * The smallest concurrency reaching 95 % of the best rows/s, or undefined with nothing delivered.
 * Steps over the stop rate of overload answers are not candidates (unless every step is): rows/s
 * bought with 503s is not a setting to run a long import at.
 */
export function kneeOf(steps: readonly StepFigures[]): { concurrency: number; rowsPerSec: number } | undefined {
  const healthy = steps.filter((s) => s.errorRate <= STOP_ERROR_RATE);
  const candidates = healthy.length > 0 ? healthy : steps;
  const best = Math.max(0, ...candidates.map((s) => s.rowsPerSec));
  if (best <= 0) return undefined;
  const sorted = [...candidates].sort((a, b) => a.concurrency - b.concurrency);
  const knee = sorted.find((s) => s.rowsPerSec >= KNEE_SHARE * best) as StepFigures;
  return { concurrency: knee.concurrency, rowsPerSec: best };
}

/** Whether a sweep goes on after its latest step (steps in the order run), and why not. */
export function sweepStop(steps: readonly StepFigures[], maxConcurrency: number): SweepStop | undefined {
  const last = steps.at(-1);
  if (!last) return undefined;
  if (last.errorRate > STOP_ERROR_RATE) return 'errors';
  if (last.concurrency >= maxConcurrency) return 'max concurrency';
  let best = 0;
  let flat = 0;
  for (const s of steps) {
    if (s.rowsPerSec > best * RISE) flat = 0;
    else flat++;
    best = Math.max(best, s.rowsPerSec);
  }
  return flat >= 2 ? 'flat' : undefined;
}

export interface StickinessVerdict {
  readonly matters: boolean;
  readonly better: StickyMode;
  readonly worse: StickyMode;
  /** The better mode's best rows/s over the other's (Infinity when the other delivered nothing). */
  readonly ratio: number;
}

/** Compares the modes' best rows/s; undefined with fewer than two modes measured. */
export function stickinessOf(best: ReadonlyMap<StickyMode, number>): StickinessVerdict | undefined {
  const ranked = [...best].sort((a, b) => b[1] - a[1]);
  const [top, next] = ranked;
  if (!top || !next || top[1] <= 0) return undefined;
  const ratio = next[1] > 0 ? top[1] / next[1] : Number.POSITIVE_INFINITY;
  return { matters: ratio >= STICKY_MATTERS, better: top[0], worse: next[0], ratio };
}
