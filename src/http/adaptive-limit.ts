import { RetryAfterBrake } from './retry-after-brake.js';

/**
 * `--concurrency auto`: a client-side concurrency limit run like a TCP congestion window (see
 * FIELD-NOTES §6: Netflix concurrency-limits' Vegas/Gradient2, Envoy's gradient controller).
 *
 * Samples (one per HTTP attempt: its latency and how it ended) are grouped in windows of about
 * `limit` samples, i.e. about one round trip of the whole window; a window holds only attempts
 * started after the limit last changed (those started before ran at the old limit). At its end:
 * - an overload answer (429, 503, 502, 504, a timeout or a network error) in it: limit × 0.7;
 * - else its mean latency is compared with the minimum (the API's latency with nothing queued):
 *   at most GROW_BELOW × the minimum, and with the window really used (in flight ≥ limit / 2), the
 *   limit grows: × 1.5 a window until the first congestion sign (slow start), then +1, +2, +4… per
 *   window (at most a quarter of the limit) while the latency stays flat, so a knee that moves up
 *   is found again in a few windows.
 *   Above SHRINK_ABOVE × the minimum the API is queueing our requests; by Little's law it works on
 *   about `limit · minimum / latency` of them at once, and the limit goes back to that (plus the
 *   queue it may hold, GROW_BELOW), by 10 % at least and by half at most. In between it holds.
 *   The thresholds are ratios, not a count of queued requests (Vegas's α = 2, β = 4, × log10 limit,
 *   which this used before): a count let a knee of 8 hold 4 more in the queue (1.5 × its latency),
 *   and at a knee of 128 took the client's own few milliseconds per round trip under load for a
 *   queue of 10 and stopped growing far below the knee (bench/adaptive measured both).
 * The minimum latency only falls between re-probes; every `probeEvery` windows the limit is pinned
 * low (a quarter, at least 1) for one window, like Envoy's minRTT measurement, and that window's
 * mean becomes the minimum: it can rise again when the API gets slower for good (a neighbour
 * loading it), and it does not drift up while a queue is held. The window is of attempts started
 * once every attempt from before the pin has ended: those started earlier still wait behind the old
 * queue at the API, and would take the queue for the floor.
 * A Retry-After is a brake for every lane: the limit halves and no attempt starts before it passes.
 *
 * Pure logic with an injectable clock: the HTTP client calls begin()/end(), the sink reads `limit`.
 */

export type AttemptOutcome = 'ok' | 'overload' | 'other';

export interface AdaptiveLimitOptions {
  readonly max: number;
  readonly initial?: number;
  /** Milliseconds, monotonic; performance.now by default. */
  readonly now?: () => number;
  /** Windows between two re-measurements of the minimum latency. */
  readonly probeEvery?: number;
  /** The longest Retry-After brake honoured (ms). */
  readonly maxBrakeMs?: number;
}

/** Latency buckets ~5 % wide from 0.1 ms: p50/p99 without keeping a sample per request. */
const BUCKET_BASE = 1.05;
const BUCKET_FLOOR_MS = 0.1;
const BUCKETS = 400;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  count = 0;

  add(ms: number): void {
    const i = ms <= BUCKET_FLOOR_MS ? 0 : Math.floor(Math.log(ms / BUCKET_FLOOR_MS) / Math.log(BUCKET_BASE));
    this.#counts[Math.min(BUCKETS - 1, i)]++;
    this.count++;
  }

  /** Adds another histogram's samples: several limiters (`forward`'s pollers) reported as one. */
  addAll(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i] = (this.#counts[i] as number) + (other.#counts[i] as number);
    this.count += other.count;
  }

  /** The q-quantile (0..1), as the upper edge of its bucket; undefined with no samples. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return BUCKET_FLOOR_MS * BUCKET_BASE ** (i + 1);
    }
    return undefined;
  }
}

export interface AdaptiveReport {
  readonly limitMin: number;
  readonly limitMedian: number;
  readonly limitMax: number;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP99Ms: number | undefined;
  readonly backoffs: number;
  readonly brakes: number;
}

const BACKOFF = 0.7;
const BRAKE = 0.5;
/**
 * Window latency / minimum latency at or under which the limit grows. With `limit` past the knee k
 * every request waits its turn, and the latency is limit / k × the floor: at a knee of 8, 9 in
 * flight is 1.125 ×, 10 is 1.25 ×, and each queued request can wait up to a whole service time, the
 * p99. 10 % stops a small knee at k + 1, and still lets a large one grow through the client's own
 * few percent of timing noise at thousands of requests a second.
 */
const GROW_BELOW = 1.1;
/** Above this ratio the API is queueing our requests: back to what it works on at once. */
const SHRINK_ABOVE = 1.3;
/** A shrink takes at least 10 % (a mild queue), at most half (a window that doubled the latency). */
const SHRINK_MIN = 0.5;
const SHRINK_MAX = 0.9;
/**
 * Slow start's growth a window. Not TCP's doubling: a window that doubles past the knee doubles
 * every latency for a round trip, then takes the round trips of its shrink to drain, which alone
 * would set the p99 of a short run; × 1.5 overshoots by half at most and still reaches 128 from 4
 * in under 10 round trips.
 */
const SLOW_START = 1.5;

export class AdaptiveLimit {
  readonly max: number;
  readonly latency = new LatencyHistogram();
  #limit: number;
  #inFlight = 0;
  #slowStart = true;
  #growth = 1;
  /** When the limit last backed off (−∞: never). */
  #backoffAt = Number.NEGATIVE_INFINITY;
  /** The last window's mean latency when it was inflated past SHRINK_ABOVE, else undefined. */
  #inflated: number | undefined;
  /** When the limit last changed on latency (grew or shrank; −∞: never). */
  #changedAt = Number.NEGATIVE_INFINITY;
  backoffs = 0;
  readonly #now: () => number;
  /** The Retry-After hold, the same mechanism `forward` shares between its pollers. */
  readonly #hold: RetryAfterBrake;
  readonly #probeEvery: number;
  #windows = 0;
  /** Re-measure the minimum latency at the next window's end (once slow start has ended). */
  #probeSoon = false;
  /**
   * While re-measuring the minimum: the limit to go back to; `draining`, how many attempts from
   * before the pin are still out; `since`, the pin, then (once they have all ended, each within the
   * request timeout) the start of the pinned window.
   */
  #probe: { since: number; restore: number; draining: number } | undefined;
  #minRtt: number | undefined;
  /** The current window's latencies of answered attempts, and whether it saw an overload. */
  #window: number[] = [];
  #windowOverload = false;
  #windowMaxInFlight = 0;
  /** How often each whole limit was in force at an attempt's start: min/median/max, bounded by max. */
  readonly #limitCounts: Uint32Array;

  constructor(o: AdaptiveLimitOptions) {
    this.max = Math.max(1, Math.floor(o.max));
    this.#limit = clamp(o.initial ?? Math.min(4, this.max), 1, this.max);
    this.#now = o.now ?? (() => performance.now());
    this.#hold = new RetryAfterBrake(o.maxBrakeMs ?? 120_000, this.#now);
    this.#probeEvery = o.probeEvery ?? 100;
    this.#limitCounts = new Uint32Array(this.max + 1);
  }

  /** The whole number of requests allowed in flight now. */
  get limit(): number {
    return Math.max(1, Math.floor(this.#limit));
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The latency floor the limit is judged against (ms), once a window has ended. */
  get minLatencyMs(): number | undefined {
    return this.#minRtt;
  }

  /** Milliseconds until an attempt may start (0: now): a Retry-After holds every lane. */
  waitMs(): number {
    return this.#hold.waitMs();
  }

  /** An attempt starts; returns its start time, to give back to end(). */
  begin(): number {
    this.#inFlight++;
    this.#windowMaxInFlight = Math.max(this.#windowMaxInFlight, this.#inFlight);
    this.#limitCounts[this.limit]++;
    return this.#now();
  }

  /** An attempt ended: how, and the Retry-After the API asked for, if any. */
  end(startedAt: number, outcome: AttemptOutcome, retryAfterMs?: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    const ms = Math.max(0, this.#now() - startedAt);
    if (retryAfterMs !== undefined) this.#brake(retryAfterMs);
    // Like TCP's one reduction per window: attempts already in flight at a backoff tell nothing new.
    if (outcome === 'overload') this.#windowOverload ||= startedAt >= this.#backoffAt;
    else if (outcome === 'ok') this.latency.add(ms);
    const probe = this.#probe;
    if (probe && (probe.draining > 0 || startedAt < probe.since)) {
      // Attempts from before the pin, and those started while they were still out, waited behind
      // the old queue: they tell nothing of the unloaded latency. The pinned window begins when the
      // last attempt from before the pin has ended (≤: one started in the pin's own tick counts as
      // before it, so the count cannot be left waiting for an attempt that no longer exists).
      if (probe.draining > 0 && startedAt <= probe.since && --probe.draining === 0) {
        probe.since = this.#now();
        this.#window = [];
      }
    } else if (outcome === 'ok' && startedAt >= this.#changedAt) this.#window.push(ms);
    // Only attempts started after the limit last changed judge the limit it set: those started
    // before ran at the old one (behind the queue a decrease was about, or without the requests a
    // growth added), and would grow it again past the knee or cut it twice for one queue.
    // A window is about one round trip of the whole limit; an overload ends it at once. In slow
    // start half the limit will do: the attempts a step added start first and answer first, so
    // they are in that half, and the ramp takes one round trip a step instead of two.
    const size = this.#slowStart ? this.limit / 2 : this.limit;
    if (this.#windowOverload || this.#window.length >= Math.max(4, size)) this.#endWindow();
  }

  report(): AdaptiveReport {
    const counts = this.#limitCounts;
    let total = 0;
    for (const c of counts) total += c;
    let min = 0;
    let max = 0;
    let median = 0;
    let seen = 0;
    for (let l = 1; l < counts.length; l++) {
      const c = counts[l] as number;
      if (c === 0) continue;
      if (min === 0) min = l;
      max = l;
      seen += c;
      if (median === 0 && seen >= total / 2) median = l;
    }
    const none = this.limit;
    return {
      limitMin: min || none,
      limitMedian: median || none,
      limitMax: max || none,
      latencyP50Ms: this.latency.quantile(0.5),
      latencyP99Ms: this.latency.quantile(0.99),
      backoffs: this.backoffs,
      brakes: this.brakes,
    };
  }

  /** Retry-After brakes honoured (a burst of answers extending one hold counts once). */
  get brakes(): number {
    return this.#hold.holds;
  }

  #brake(retryAfterMs: number): void {
    // The lanes that were in flight together answer together: one brake (one halving) for them, extended.
    if (this.#hold.waitMs() <= 0) {
      this.#limit = clamp(this.#limit * BRAKE, 1, this.max);
      this.#slowStart = false;
      this.#growth = 1;
    }
    this.#hold.hold(retryAfterMs);
  }

  #endWindow(): void {
    const samples = this.#window;
    const overload = this.#windowOverload;
    const used = this.#windowMaxInFlight >= this.limit / 2;
    this.#window = [];
    this.#windowOverload = false;
    this.#windowMaxInFlight = this.#inFlight;
    if (overload) {
      this.backoffs++;
      if (this.#probe) this.#limit = this.#probe.restore;
      this.#probe = undefined;
      this.#decrease(BACKOFF);
      return;
    }
    const rtt = mean(samples);
    if (this.#probe) {
      // The re-measured floor replaces the old one, higher or lower; then back to work.
      this.#minRtt = rtt;
      this.#limit = this.#probe.restore;
      this.#probe = undefined;
      return;
    }
    const minRtt = Math.min(this.#minRtt ?? rtt, rtt);
    this.#minRtt = minRtt;
    const due = ++this.#windows % this.#probeEvery === 0 || this.#probeSoon;
    this.#probeSoon = false;
    if (due) {
      this.#probe = { since: this.#now(), restore: this.#limit, draining: this.#inFlight };
      this.#limit = Math.max(1, Math.ceil(this.#limit / 4));
      return;
    }
    const inflation = rtt / minRtt;
    const inflatedBefore = this.#inflated;
    this.#inflated = inflation > SHRINK_ABOVE ? rtt : undefined;
    if (inflation > SHRINK_ABOVE && (this.#slowStart || inflatedBefore !== undefined)) {
      // Little's law: at `limit` in flight and this latency, the API works on limit · min / rtt at
      // once. Past slow start a queue must show in two windows in a row, and the milder of the two
      // sets the cut: a window of our own process starved of CPU (a neighbour on the machine, a GC
      // pause) looks like a queue once, a queue at the API stays until the limit comes down. Slow
      // start cuts at the first sign: its last step may have overshot by half.
      const judged = Math.min(rtt, inflatedBefore ?? rtt);
      this.#inflated = undefined;
      this.#decrease(clamp((minRtt / judged) * GROW_BELOW, SHRINK_MIN, SHRINK_MAX));
    } else if (inflation > SHRINK_ABOVE) this.#growth = 1;
    else if (inflation <= GROW_BELOW && used) {
      const step = this.#slowStart ? this.#limit * (SLOW_START - 1) : this.#growth;
      this.#limit = clamp(this.#limit + step, 1, this.max);
      this.#changedAt = this.#now();
      // The step doubles while the latency stays flat, up to a quarter of the limit: a window is
      // judged on attempts started after the last change, so an overshoot is one step at most,
      // and a limit that left slow start early (a noisy window) climbs back at × 1.25 a window.
      this.#growth = Math.min(this.#growth * 2, Math.max(1, this.#limit / 4));
    } else this.#growth = 1;
  }

  #decrease(factor: number): void {
    this.#backoffAt = this.#now();
    this.#changedAt = this.#backoffAt;
    // The floor slow start measured came from the run's first windows (a cold client, connections
    // still opening), and past the knee no window is unqueued enough to lower it again: measure it
    // anew once slow start ends, not only every probeEvery windows (at a knee of 8 the bench saw a
    // floor of 43.9 ms against 40.9 re-measured, which let 11 in flight pass for 1.14 ×).
    if (this.#slowStart) this.#probeSoon = true;
    this.#slowStart = false;
    this.#growth = 1;
    this.#limit = clamp(this.#limit * factor, 1, this.max);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * A window's latency is its mean: by Little's law the mean is what the queue adds to (in flight =
 * throughput × mean latency), where a median stays at the unqueued latency until half a window waits.
 */
function mean(xs: number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}
