/**
 * `--concurrency auto`: a client-side concurrency limit run like a TCP congestion window (see
 * FIELD-NOTES §6: Netflix concurrency-limits' Vegas/Gradient2, Envoy's gradient controller).
 *
 * Samples (one per HTTP attempt: its latency and how it ended) are grouped in windows of about
 * `limit` samples, i.e. about one round trip of the whole window. At the end of each window:
 * - an overload answer (429, 503, 502, 504, a timeout or a network error) in it: limit × 0.7;
 * - else the queue the API holds for us is estimated, Vegas-style (α = 2, β = 4, × log10 limit), as
 *   `limit · (1 − minLatency / windowLatency)`: above β the latency is inflated and the limit
 *   shrinks (× 0.9); below α, and if the window was really used (in flight ≥ limit / 2), it grows:
 *   doubling until the first congestion sign (slow start), then +1, +2, +4… per window while the
 *   latency stays flat, so a knee that moves up is found again in a few windows.
 * The minimum latency only falls between re-probes; every `probeEvery` windows the limit is pinned
 * low (a quarter, at least 1) for one window of attempts started after the pin, like Envoy's minRTT
 * measurement, and that window's median becomes the minimum: it can rise again when the API gets
 * slower for good (a neighbour loading it), and it does not drift up while a queue is held.
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
const SHRINK = 0.9;
const BRAKE = 0.5;

export class AdaptiveLimit {
  readonly max: number;
  readonly latency = new LatencyHistogram();
  #limit: number;
  #inFlight = 0;
  #slowStart = true;
  #growth = 1;
  #pausedUntil = 0;
  /** When the limit last backed off (−∞: never). */
  #backoffAt = Number.NEGATIVE_INFINITY;
  backoffs = 0;
  brakes = 0;
  readonly #now: () => number;
  readonly #maxBrakeMs: number;
  readonly #probeEvery: number;
  #windows = 0;
  /** While re-measuring the minimum: when the pin began, and the limit to go back to. */
  #probe: { since: number; restore: number } | undefined;
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
    this.#maxBrakeMs = o.maxBrakeMs ?? 120_000;
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
    return Math.max(0, this.#pausedUntil - this.#now());
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
    else if (outcome === 'ok') {
      this.latency.add(ms);
      // While re-measuring, only attempts started under the pin tell the unloaded latency.
      if (!this.#probe || startedAt >= this.#probe.since) this.#window.push(ms);
    }
    // A window is about one round trip of the whole limit; an overload ends it at once.
    if (this.#windowOverload || this.#window.length >= Math.max(4, this.limit)) this.#endWindow();
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

  #brake(retryAfterMs: number): void {
    const now = this.#now();
    const until = now + Math.min(retryAfterMs, this.#maxBrakeMs);
    // The lanes that were in flight together answer together: one brake (one halving) for them, extended.
    if (this.#pausedUntil <= now) {
      this.brakes++;
      this.#limit = clamp(this.#limit * BRAKE, 1, this.max);
      this.#slowStart = false;
      this.#growth = 1;
    }
    this.#pausedUntil = Math.max(this.#pausedUntil, until);
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
    const rtt = median(samples);
    if (this.#probe) {
      // The re-measured floor replaces the old one, higher or lower; then back to work.
      this.#minRtt = rtt;
      this.#limit = this.#probe.restore;
      this.#probe = undefined;
      return;
    }
    const minRtt = Math.min(this.#minRtt ?? rtt, rtt);
    this.#minRtt = minRtt;
    if (++this.#windows % this.#probeEvery === 0) {
      this.#probe = { since: this.#now(), restore: this.#limit };
      this.#limit = Math.max(1, Math.ceil(this.#limit / 4));
      return;
    }
    const queue = this.#limit * (1 - minRtt / rtt);
    const log = Math.max(1, Math.log10(this.#limit));
    const alpha = 2 * log;
    const beta = 4 * log;
    if (queue > beta) this.#decrease(SHRINK);
    else if (queue < alpha && used) {
      const step = this.#slowStart ? this.#limit : this.#growth;
      this.#limit = clamp(this.#limit + step, 1, this.max);
      this.#growth = Math.min(this.#growth * 2, Math.max(1, Math.sqrt(this.#limit)));
    } else this.#growth = 1;
  }

  #decrease(factor: number): void {
    this.#backoffAt = this.#now();
    this.#slowStart = false;
    this.#growth = 1;
    this.#limit = clamp(this.#limit * factor, 1, this.max);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
