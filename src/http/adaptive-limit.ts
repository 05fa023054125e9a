import { RetryAfterBrake } from './retry-after-brake.js';

/**
 * `--concurrency auto`: a client-side concurrency limit run like a TCP congestion window (see
 * FIELD-NOTES §6: Netflix concurrency-limits' Vegas/Gradient2, Envoy's gradient controller).
 *
 * Samples (one per HTTP attempt: its latency and how it ended) are judged in windows. A window is
 * a cohort: the next `limit` attempts to start, judged once every one of them has ended (so about
 * two round trips), not the first `limit` answers: the request a step added past the knee waits
 * longest and answers last. Attempts started before the limit last changed judge nothing, except
 * in slow start those of the burst that ended the window (see BURST): its steps take one round trip.
 * At a window's end:
 * - an overload answer (429, 503, 502, 504, a timeout or a network error) in it: limit × 0.7;
 * - late answers: on an API whose unloaded latency is steady, an answer that took more than 1.3 ×
 *   the floor (and 4 of its spreads) waited behind a whole request in the API's queue. Workers
 *   that start together finish together, so one request over the knee makes one such answer a
 *   round trip, while it adds only 1 / limit to the mean (0.8 % at a knee of 128, where 1 % of the
 *   answers is the p99): the limit comes down by the late count (bounded by what the mean says);
 * - the mean against the floor: over SHRINK_ABOVE × (and more than the two means' noise), by
 *   Little's law the API works on about `limit · floor / latency` at once, and the limit goes
 *   back near that; at most GROW_BELOW × (or within the noise), with the window really used, the
 *   limit grows: × 1.5 a window until the first queue (slow start; × 2 from a limit of 16), then
 *   +1, +2, +4… (at most a quarter of the limit) while nothing queues, so a knee that moves up is
 *   found again.
 * Past slow start a queue must show in two windows in a row (a GC pause or a busy core looks like
 * one once). A limit that queued becomes a ceiling: the limit one under it holds, and the ceiling
 * itself is tried again after a hold of 8 windows, doubled each time it still queues (up to 32),
 * so a knee of 8 is not overrun every other window; a try that does not queue means the knee
 * moved up, and growth starts again.
 * The floor is the pooled samples of the last unloaded windows: slow start's, then the pinned
 * ones. Every `probeEvery` windows the limit is pinned low (a quarter) for one window of at least
 * 8 attempts, started once every attempt from before the pin has ended (those still waited behind
 * the old queue), like Envoy's minRTT measurement: the floor can rise again when the API gets
 * slower for good, and does not drift up while a queue is held. A window clearly slower than a new
 * one leaves the pool (the run's cold first window). Its median and spread are robust (a stall of
 * our own process delays a few answers a lot); on an API whose latency varies (spread over 10 %
 * of the median) late answers are not counted at all, and its means are compared with their
 * noise, so one slow window is not taken for a queue (a minimum of window means, which this used
 * before, was a lucky window, and walked such an API down to a limit of 1).
 * Our own process is told apart where it can be: a window that looks queued while our event loop
 * was over half busy holds the limit (see BUSY), a cut made while it was busy is taken back once
 * the loop is not (see #undo), and a slow-start window clearly faster than the one before it (a
 * client still warming up: the floor it replaces was cold) holds it too.
 * A Retry-After is a brake for every lane: the limit halves and no attempt starts before it passes.
 * bench/adaptive/simulate.ts models the adaptive bench on a virtual clock, for tuning.
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
  /**
   * The share of the time since the last call (0..1) our own process was too busy to read an
   * answer at once (see BUSY); by default the event loop's utilization, or 0 with an injected clock
   * (a virtual clock has no loop of its own to measure).
   */
  readonly busy?: () => number;
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
 * Window latency / unloaded latency at or under which the limit grows. With `limit` past the knee k
 * every request waits its turn, and the mean latency is limit / k × the floor: at a knee of 8, 9 in
 * flight is 1.125 ×. 10 % stops a small knee at k + 1 on the mean alone, and still lets a large one
 * grow through the client's own few percent of timing noise at thousands of requests a second
 * (where a queue of one or two shows in the late count instead, below).
 */
const GROW_BELOW = 1.1;
/** Above this ratio the API is queueing our requests: back to what it works on at once. */
const SHRINK_ABOVE = 1.2;
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
/**
 * …and × 2 from this limit on. Each step is a window (two round trips), and at a knee of 128 the
 * climb was the largest loss of a short run: 0.6–1.3 s of an 8–9 s run went by below the knee
 * (4 → 153 is nine steps of × 1.5, six with these). A knee under 16 is still met by × 1.5 (a knee
 * of 8 overrun by 8 for a round trip is its p99); from 16 on, a step that doubles past a knee
 * queues at most one knee's worth for the window that cuts it, under 1 % of a short run's answers.
 */
const SLOW_START_DOUBLE_FROM = 16;
/**
 * Slow start: attempts begun within this share of the floor before a window ends join the next
 * window. Answers come in bursts (an API's workers that started together finish together), and
 * each answer starts the lane's next attempt at once: by the time the window's last answer is in,
 * the others of its burst have started their successors, under the old limit but a millisecond or
 * two before the step. They meet the same load as the attempts the step adds; left out, the next
 * window would wait a whole round trip for them to come round again, and each step of slow start
 * took two round trips instead of one (at a knee of 128, ~7 % of a 7-second run).
 */
const BURST = 0.05;
/**
 * A late answer took longer than the unloaded latency plus half of it (and plus 4 of its standard
 * deviations): it waited in the API's queue behind a whole request. The mean hides a queue of one or
 * two at a large knee (129 in flight at a knee of 128 adds 0.8 % to the mean), but an API's workers
 * finish in step (requests started together end together), so the one queued request waits most of
 * a service time: one answer in the window at about twice the floor, and 1 % of them is the p99.
 * Counted only on an API whose unloaded latency is steady (spread ≤ LATE_CV of its mean): where it
 * varies more, its own p99 is already far over its mean and a queue of one changes little of it.
 */
const LATE_GAP = 0.3;
/**
 * A window with more late answers than this × the requests its step added over the last clean
 * window (+ 2) waits for the next before it cuts, in slow start and at a ceiling too. A step
 * queues at most what it added: slow start's × 1.5, a third of the window; a try at a ceiling,
 * one; the rest is served at the floor. A delay shared by more is something else, most often our
 * own process stalled while a window's burst of answers came in: in the first second of a run on
 * two cores, 10–25 ms stalls (code being compiled, young collections, three processes on two
 * cores) made 43 of 68 and 95 of 102 answers late in slow start, and 25 of 76 at a try at a
 * ceiling, at a knee of 128 with nothing queued at the API. A queue that is real shows again in
 * the next window.
 */
const SHIFTED = 1.25;
/**
 * A window in which our own event loop was busy more than this share of the time (or the window
 * before it was: its attempts started during the stall) is no evidence of a queue at the API: an
 * answer that arrives while the loop works waits for it, and so does a request about to be sent.
 * In the first 1–2 s of a run on two cores (code being compiled, three processes on two cores) the
 * client's loop ran at 0.55–0.85 in the windows that cut slow start at 45 or 102 in flight, with
 * 14–90 answers late at the client while the API saw none over 54 ms and nothing queued; clean
 * windows ran at 0.2–0.5, and the steady state at a knee of 128 at 0.2–0.45. Such a window holds
 * the limit instead of cutting it (it grows on one that is clean: latency that low is the API's),
 * at most BUSY_WAITS in a row, so a client busy for good still cuts on a queue that stays.
 */
const BUSY = 0.5;
const BUSY_WAITS = 2;
/**
 * …and in slow start, this many: a run's start-up (code being compiled, the first collections of
 * a heap that grows) is the client's busiest time. At a knee of 128 its loop ran 0.55–0.83 busy
 * for up to five windows in a row at 81–162 in flight, at ~1,100 requests/s (a third of what it
 * sends a second later): two excused windows ended slow start at 48–84, and the climb back took
 * 1–1.5 s. The limit holds meanwhile, so a queue that is real waits at most these windows more.
 */
const BUSY_WAITS_SLOW_START = 4;
const LATE_SD = 4;
const LATE_CV = 0.1;
/** Fewer samples in the floor than this say little of the API's spread (see `lateAt`). */
const LATE_BASE_N = 8;
/**
 * After a queue at some limit, that limit is tried again (one request over the limit that held no
 * queue) only after HOLD_MIN windows, doubled each time it queues again, up to HOLD_MAX: each try
 * costs about one late answer, and trying every other window would make 1 in 2 × knee of all
 * answers late. A try that holds no queue means the knee moved up: growth starts again from it.
 */
const HOLD_MIN = 8;
/**
 * The first hold, of the ceiling slow start's end sets, is about 64 answers (HOLD_MIN windows at
 * a limit of 8, at least HOLD_FIRST windows): the window that ended slow start may have been our
 * own start-up (a client whose code is not compiled yet queues answers in its own loop: on two
 * cores, the first second of a run at a knee of 128 lifted a window's mean 20–30 % with nothing
 * queued at the API), and 8 windows at a limit of ~100 kept it there for most of a second. Each
 * try at a real knee costs about one late answer, so the share of late answers stays that of a
 * knee of 8; the hold doubles from here as usual.
 */
const HOLD_FIRST = 2;
const HOLD_MAX = 32;
/**
 * …and never longer than this (ms): on a slow API 32 windows are many seconds (at 100 ms a request,
 * a window is ~200 ms), and a knee that moved up (the API scaled out) would wait that long to be
 * found. At the adaptive bench's 40 ms it is ~24 windows: a try costs a knee of 8 about 0.5 % of
 * its answers.
 */
const HOLD_MAX_MS = 2000;
/** A window's cohort is judged without its last members once they have taken this × the floor's median. */
const OVERDUE = 3;
/** The unloaded latency is pooled over this many of the last unloaded windows. */
const BASE_WINDOWS = 4;

/** What a cut changes: the limit, whether slow start was on, the ceiling and its hold. */
interface CutState {
  readonly limit: number;
  readonly slowStart: boolean;
  readonly ceiling: number | undefined;
  readonly since: number;
  readonly at: number;
  readonly hold: number;
}

/** A window's count, mean and variance of latencies. */
interface Stats {
  readonly n: number;
  readonly mean: number;
  readonly variance: number;
}

export class AdaptiveLimit {
  readonly max: number;
  readonly latency = new LatencyHistogram();
  #limit: number;
  #inFlight = 0;
  #slowStart = true;
  #growth = 1;
  /** When the limit last backed off (−∞: never). */
  #backoffAt = Number.NEGATIVE_INFINITY;
  /** The last window, when it showed a queue that was not acted on yet (past slow start, one is not enough). */
  #queuedBefore: { late: number; mean: number } | undefined;
  /**
   * The window's cohort: the first `size` attempts started at or after `from` (after the limit last
   * changed, or the last window ended); the window ends once every one of them has ended. Not the
   * first `size` answers: those are the fastest, and the request that waited behind the knee
   * answers last: a window of the first answers would never see it.
   */
  #cohort = { from: 0, size: 4, started: 0, ended: 0, last: Number.NEGATIVE_INFINITY };
  /** Start stamps are strictly increasing, so a stamp tells whether its attempt is in the cohort. */
  #lastStart = Number.NEGATIVE_INFINITY;
  /**
   * Slow start: the start stamps of attempts in flight that began outside the cohort (it was full),
   * so the next window can take those of the last burst (see BURST). Emptied as slow start ends.
   */
  readonly #outside = new Set<number>();
  /** The smallest limit known to queue; the window count and time its hold began at; the hold (windows). */
  #ceiling: number | undefined;
  #ceilingSince = 0;
  #ceilingAt = 0;
  /**
   * The last limit a window judged clean (no queue, really used; slow start's cut never goes below
   * it), and the means of its clean windows since it was reached (count, mean, Welford's m2).
   */
  readonly #clean = { limit: 1, n: 0, mean: 0, m2: 0 };
  #hold = HOLD_MIN;
  backoffs = 0;
  readonly #now: () => number;
  readonly #busy: () => number;
  /** Our own loop's busy share over the last window, and how many queue-looking windows in a row it excused. */
  #busyBefore = 0;
  #busyWaits = 0;
  /**
   * The state a cut made while our loop was busy left, to take it back: like TCP's undo of a
   * reduction found spurious (Eifel, RFC 3522), when the next window, at the lower limit, is
   * clean and our loop is no longer busy, the limit before the cut comes back (and slow start,
   * if the cut ended it). In a real run's first seconds at a knee of 128 the client's own
   * start-up ended slow start at 48–84 in flight and, later, cut 184 to 140 with our loop 0.77
   * busy; each climb back took a second. A queue that was the API's shows again at the restored
   * limit, and is cut again: once, as a cut right after an undo is not undone (`#undid`).
   */
  #undo: CutState | undefined;
  /** The limit was restored by an undo and has not grown since. */
  #undid = false;
  /** The Retry-After hold, the same mechanism `forward` shares between its pollers. */
  readonly #brakeHold: RetryAfterBrake;
  readonly #probeEvery: number;
  #windows = 0;
  /** Re-measure the floor at the next window's end: a cut did not bring the latency down. */
  #probeSoon = false;
  /** The mean of the window that called for the last cut on latency (undefined: none since growth). */
  #cutMean: number | undefined;
  /**
   * While re-measuring the unloaded latency: the limit to go back to; `draining`, how many attempts
   * from before the pin (started at or before `since`) are still out: each ends within the request
   * timeout, and the pinned window's cohort starts when the last has.
   */
  #probe: { since: number; restore: number; draining: number } | undefined;
  /** The last unloaded windows: slow start's until the re-measurements (the pinned ones) push them out. */
  #base: BaseWindow[] = [];
  /** The floor's median, kept from the last window's end (0: none yet), and whether it is steady. */
  #floorMedian = 0;
  #floorTight = false;
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
    this.#busy = o.busy ?? (o.now ? () => 0 : loopBusy());
    this.#brakeHold = new RetryAfterBrake(o.maxBrakeMs ?? 120_000, this.#now);
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

  /** The API's latency with nothing of ours queued (ms), the floor the limit is judged against. */
  get minLatencyMs(): number | undefined {
    return this.#base.length === 0 ? undefined : floorOf(this.#base).mean;
  }

  /** Milliseconds until an attempt may start (0: now): a Retry-After holds every lane. */
  waitMs(): number {
    return this.#brakeHold.waitMs();
  }

  /** An attempt starts; returns its start time, to give back to end(). */
  begin(): number {
    this.#inFlight++;
    this.#windowMaxInFlight = Math.max(this.#windowMaxInFlight, this.#inFlight);
    this.#limitCounts[this.limit]++;
    const at = Math.max(this.#now(), this.#lastStart + 1e-6);
    this.#lastStart = at;
    const c = this.#cohort;
    if (at >= c.from && c.started < c.size) {
      c.started++;
      c.last = at;
    } else if (this.#slowStart && this.#outside.size < 4096) this.#outside.add(at);
    return at;
  }

  /** An attempt ended: how, and the Retry-After the API asked for, if any. */
  end(startedAt: number, outcome: AttemptOutcome, retryAfterMs?: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    const ms = Math.max(0, this.#now() - startedAt);
    if (this.#outside.size > 0) this.#outside.delete(startedAt);
    if (retryAfterMs !== undefined) this.#brake(retryAfterMs);
    // Like TCP's one reduction per window: attempts already in flight at a backoff tell nothing new.
    if (outcome === 'overload') this.#windowOverload ||= startedAt >= this.#backoffAt;
    else if (outcome === 'ok') this.latency.add(ms);
    const probe = this.#probe;
    // Attempts from before the pin, and those started while they were still out, waited behind
    // the old queue: they tell nothing of the unloaded latency. The pinned window's cohort begins
    // when the last attempt from before the pin has ended (≤: one started in the pin's own tick
    // counts as before it, so the count cannot be left waiting for an attempt that no longer exists).
    if (probe && probe.draining > 0 && startedAt <= probe.since && --probe.draining === 0) this.#newCohort();
    // Only attempts started after the limit last changed judge the limit it set: those started
    // before ran at the old one (behind the queue a decrease was about, or without the requests a
    // growth added), and would grow it again past the knee or cut it twice for one queue.
    const c = this.#cohort;
    if (c.started > 0 && startedAt >= c.from && startedAt <= c.last) {
      c.ended++;
      if (outcome === 'ok') this.#window.push(ms);
    }
    // A window is about one round trip of the whole limit; an overload ends it at once.
    if (this.#windowOverload || (c.started >= c.size && c.ended >= c.started)) this.#endWindow();
    else if (c.started >= c.size && this.#floorMedian > 0 && this.#now() - c.last > OVERDUE * this.#floorMedian) {
      // The last members are overdue: on an API with a long tail the slowest of a big cohort can
      // take many times the median, and waiting for it would leave the limit unjudged that long.
      // They count as answers of at least the time they have taken (they started by c.last).
      for (let i = c.ended; i < c.started; i++) this.#window.push(this.#now() - c.last);
      this.#endWindow();
    }
  }

  /**
   * The next window's cohort: the next `limit` attempts (at least 4), so a window spans every
   * request in flight and a second round trip at a new limit. A cohort of half the limit, which
   * slow start used to save a round trip a step, could miss the step that crossed the knee: in
   * the first round trip the queued request may wait only a little, depending on where the API's
   * workers are in their service time; from the second on it waits a whole one.
   */
  #newCohort(from = Math.max(this.#now(), this.#lastStart + 5e-7)): void {
    // A pinned window (the floor's re-measurement) takes 8: 4 say little of the API's spread.
    const size = Math.max(this.#probe ? 8 : 4, this.limit);
    this.#cohort = { from, size, started: 0, ended: 0, last: Number.NEGATIVE_INFINITY };
    this.#window = [];
    if (this.#slowStart && !this.#probe && Number.isFinite(from)) this.#joinBurst(from);
    this.#outside.clear();
  }

  /** Slow start: the attempts still out that began in the last burst (see BURST) join the new cohort. */
  #joinBurst(from: number): void {
    const c = this.#cohort;
    // The floor's median is kept from the last judged window; after the first, only the pool has it.
    const since = from - BURST * (this.#floorMedian || (this.minLatencyMs ?? 0));
    for (const at of this.#outside) {
      if (at < since || c.started >= c.size) continue;
      if (c.started === 0) c.from = at;
      c.started++;
      c.last = at;
    }
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
    return this.#brakeHold.holds;
  }

  #brake(retryAfterMs: number): void {
    // The lanes that were in flight together answer together: one brake (one halving) for them, extended.
    if (this.#brakeHold.waitMs() <= 0) {
      this.#limit = clamp(this.#limit * BRAKE, 1, this.max);
      this.#slowStart = false;
      this.#outside.clear();
      this.#growth = 1;
    }
    this.#brakeHold.hold(retryAfterMs);
  }

  #endWindow(): void {
    this.#judge();
    // A probe's pin waits for the attempts from before it to drain: its cohort starts then.
    if (this.#probe && this.#probe.draining > 0) this.#newCohort(Number.POSITIVE_INFINITY);
    else this.#newCohort();
  }

  #judge(): void {
    const busyNow = this.#busy();
    const busy = Math.max(busyNow, this.#busyBefore) > BUSY;
    this.#busyBefore = busyNow;
    const undo = this.#undo;
    this.#undo = undefined;
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
      this.#queuedBefore = undefined;
      // The limit that met a full queue is a ceiling too: growth comes back to it only after a hold.
      this.#setCeiling(Math.floor(this.#limit * BACKOFF) + 1, false);
      this.#decrease(BACKOFF);
      return;
    }
    const w = stats(samples);
    if (this.#probe) {
      // The re-measured floor joins the pool (the oldest leaves it), higher or lower; then back to work.
      this.#pushBase(w, samples, true);
      this.#cutMean = undefined;
      this.#limit = this.#probe.restore;
      this.#probe = undefined;
      return;
    }
    if (this.#base.length === 0) {
      // The first window is the only floor there is yet: nothing to judge it against.
      this.#pushBase(w, samples);
      this.#grow(used);
      return;
    }
    const base = floorOf(this.#base);
    this.#floorMedian = base.median;
    this.#floorTight = base.tight && base.n >= LATE_BASE_N;
    const due = ++this.#windows % this.#probeEvery === 0 || this.#probeSoon;
    this.#probeSoon = false;
    if (due) {
      // `since`: the last stamp handed out, so every attempt begun before the pin is ≤ it.
      this.#probe = { since: this.#lastStart, restore: this.#limit, draining: this.#inFlight };
      this.#limit = Math.max(1, Math.ceil(this.#limit / 4));
      this.#queuedBefore = undefined;
      return;
    }
    // The window's mean against the floor, and whether the difference is more than the two means'
    // own noise (2 standard errors): on an API whose latency varies, a small window's mean swings
    // far from the floor with nothing queued, and a limiter that took each swing for a queue would
    // walk down to 1.
    const inflation = w.mean / base.mean;
    // A floor of few samples may look steadier than the API is (4 answers of a long-tailed API can
    // happen to agree): until it has LATE_BASE_N, its spread is taken as at least half its mean.
    const baseVariance = base.n >= LATE_BASE_N ? base.variance : Math.max(base.variance, (base.mean / 2) ** 2);
    const noise = 2 * Math.sqrt(w.variance / w.n + baseVariance / base.n);
    const inflated = w.mean - base.mean > noise;
    let late = 0;
    if (base.tight) {
      // A floor of few samples (slow start's first windows) says little of the API's spread: only
      // an answer far over it counts then, as a queue of one behind a whole request would be.
      const lateAt =
        base.n >= LATE_BASE_N
          ? base.median + Math.max(LATE_GAP * base.median, LATE_SD * base.spread)
          : base.median * (1 + 2 * LATE_GAP);
      for (const x of samples) if (x > lateAt) late++;
    }
    const meanQueue = inflated && inflation > SHRINK_ABOVE;
    const atCeiling = this.#ceiling !== undefined && this.limit >= this.#ceiling;
    const tryQueued = atCeiling && this.#tryQueued(w.mean);
    if (late > 0 || meanQueue || tryQueued) {
      const before = this.#queuedBefore;
      if (busy && this.#busyWaits < (this.#slowStart ? BUSY_WAITS_SLOW_START : BUSY_WAITS)) {
        // Our own loop, not the API, most likely (see BUSY): hold the limit and judge the next window.
        this.#busyWaits++;
        this.#queuedBefore = before ?? { late, mean: w.mean };
        return;
      }
      this.#busyWaits = 0;
      // More late answers than the step from the last clean window could have queued (see SHIFTED).
      const shifted = late > SHIFTED * Math.max(1, this.limit - this.#clean.limit) + 2;
      if (before === undefined && (shifted || (!atCeiling && !(this.#slowStart && meanQueue)))) {
        // A queue must show in two windows in a row: a window of our own process starved of CPU
        // (a neighbour on the machine, a GC pause) looks like a queue once, and so does one slow
        // answer of an API whose latency varies; a queue at the API stays until the limit comes
        // down. Slow start cuts at once when the mean shows a queue (its last step may have
        // overshot by half), and so does a try at a known ceiling (it is one over). Late answers
        // in a mean that is only a little up wait for the next window in slow start too: in the
        // first second of a run our own client is slow (its code not yet compiled, new lanes)
        // and a window of ~100 answers can hold a few late ones with nothing queued at the API.
        // Nor does a window of more late answers than a step can queue (see SHIFTED), in slow
        // start or at a ceiling.
        this.#queuedBefore = { late, mean: w.mean };
        // A shift is our own stall, most likely: the climb goes on at its pace if it passes.
        // Otherwise it slows to half its pace, not to +1: after slow start ended early at a knee
        // of 128, windows of 1–14 late answers (our own jitter at ~100 in flight) that the next
        // window did not confirm restarted the climb at +1 seven times, and 63 → 127 took 2.2 s.
        // A queue that is real is cut at the next window anyway; the step is a quarter at most.
        if (!shifted) this.#growth = Math.max(1, this.#growth / 2);
        return;
      }
      this.#queuedBefore = undefined;
      let target = this.#limit;
      // The milder of the two windows sets the cut, for the late count as for the mean.
      const judged = Math.min(w.mean, before?.mean ?? w.mean);
      if (late > 0) {
        // Each late answer waited behind one request too many: that many over the knee. Not more
        // than the mean says: q late answers of about twice the floor make it (1 + q / limit) ×
        // the floor; after a big step a window also holds answers that waited behind the step
        // before it, and counts too many.
        const counted = Math.min(late, before && before.late > 0 ? before.late : late);
        const byMean = Math.ceil(this.#limit * (judged / base.mean - 1));
        target = this.#limit - Math.max(1, Math.min(counted, byMean));
      }
      if (tryQueued) target = Math.min(target, this.#limit - 1);
      if (meanQueue) {
        // Little's law: at `limit` in flight and this latency, the API works on limit · floor /
        // latency at once.
        const factor = clamp((base.mean / judged) * GROW_BELOW, SHRINK_MIN, SHRINK_MAX);
        target = Math.min(target, this.#limit * factor);
      }
      // Slow start's last step was judged clean: the knee is not below it, whatever a window that
      // also holds answers queued behind the overshoot counts. If that judgement was wrong (the
      // floor had too few samples yet to count late answers), the next windows cut the rest.
      if (this.#slowStart) target = Math.max(target, this.#clean.limit);
      // A cut whose window is no faster than the one that called for the cut before it did not
      // find a queue: the latency did not follow the limit down, so the floor is what is wrong (too
      // low: slow start's few first answers). Re-measure it at the next window's end.
      // Only a cut of 10 % or more can show in the mean: trimming 130 to 129 at a ceiling moves it
      // under 1 %, and every such trim after one cut re-measured the floor (a window at a quarter
      // of the limit, ~1 % of a short run's rows each), three times in 2 s at a knee of 128.
      if (target <= this.#limit * SHRINK_MAX) {
        if (this.#cutMean !== undefined && w.mean >= this.#cutMean * 0.95) this.#probeSoon = true;
        this.#cutMean = w.mean;
      }
      const undoTo = busy && !this.#undid ? this.#state() : undefined;
      this.#setCeiling(Math.floor(target) + 1, atCeiling);
      this.#decrease(target / this.#limit);
      this.#undo = undoTo;
      return;
    }
    this.#queuedBefore = undefined;
    this.#busyWaits = 0;
    if (inflated && inflation > GROW_BELOW) this.#growth = 1;
    else if (undo && used && busyNow <= BUSY) {
      // A clean window at the cut limit, our loop idle again: the cut was our own stall's (see #undo).
      this.#limit = undo.limit;
      this.#slowStart = undo.slowStart;
      this.#ceiling = undo.ceiling;
      this.#ceilingSince = undo.since;
      this.#ceilingAt = undo.at;
      this.#hold = undo.hold;
      this.#growth = 1;
      this.#cutMean = undefined;
      this.#undid = true;
    } else {
      // Slow start's windows below the knee are unloaded ones: the floor's first samples. One
      // clearly faster than the last of them is a client (and API) still warming up: the floor
      // it replaces was cold, so the limit it judged clean is not known to be; hold it a window.
      const last = this.#base[this.#base.length - 1];
      const warming = this.#slowStart && last !== undefined && clearlySlower(last, w);
      if (this.#slowStart) this.#pushBase(w, samples);
      if (used) this.#noteClean(w.mean);
      if (!warming) this.#grow(used);
    }
  }

  /**
   * A try at a ceiling is one request over the limit held below it. Where one request's worth of
   * latency (mean / limit) is more than the held windows' means vary, the try's mean shows it: up
   * by half a request's worth, the try queued. Late answers do not show it there: a client whose
   * own share of the latency varies sends the try a few ms apart from the rest, and it waits only
   * that long. At a knee of 8 behind a cold client's ~6 ms, windows at 9 ran at 45–46 ms, tries
   * at 10 at 50–51 (inside the floor's noise, and under GROW_BELOW): they passed, the limit
   * climbed to 11, and 1 % of the answers waited a whole service time.
   */
  #tryQueued(mean: number): boolean {
    const h = this.#clean;
    if (h.limit !== this.limit - 1 || h.n < 3) return false;
    const worth = h.mean / this.limit;
    const varies = 2 * Math.sqrt(h.m2 / (h.n - 1));
    return worth > varies && mean - h.mean > Math.max(worth / 2, varies);
  }

  /** A clean window: its limit is the last clean one, and its mean joins those at that limit (a new limit starts them afresh). */
  #noteClean(mean: number): void {
    const h = this.#clean;
    if (h.limit !== this.limit) Object.assign(h, { limit: this.limit, n: 0, mean: 0, m2: 0 });
    h.n++;
    const d = mean - h.mean;
    h.mean += d / h.n;
    h.m2 += d * (mean - h.mean);
  }

  /** The window held no queue: grow (if the window was really used), up to a known ceiling. */
  #grow(used: boolean): void {
    if (!used) {
      this.#growth = 1;
      return;
    }
    const ceiling = this.#ceiling;
    if (ceiling !== undefined && this.limit >= ceiling) {
      // A try at the ceiling held no queue: the knee moved up (the API scaled out). Climb again.
      this.#ceiling = undefined;
      this.#hold = HOLD_MIN;
      this.#growth = 1;
    }
    const factor = this.#limit >= SLOW_START_DOUBLE_FROM ? 2 : SLOW_START;
    const step = this.#slowStart ? this.#limit * (factor - 1) : this.#growth;
    let next = clamp(this.#limit + step, 1, this.max);
    if (this.#ceiling !== undefined && next >= this.#ceiling) {
      // Up to one under the ceiling at once; the ceiling itself once its hold has passed.
      const held = this.#windows - this.#ceilingSince >= this.#hold || this.#now() - this.#ceilingAt >= HOLD_MAX_MS;
      next = held ? this.#ceiling : this.#ceiling - 1;
      this.#growth = 1;
    } else {
      // The step doubles while the latency stays flat, up to a quarter of the limit: a window is
      // judged on attempts started after the last change, so an overshoot is one step at most,
      // and a limit that left slow start early (a noisy window) climbs back at × 1.25 a window.
      this.#growth = Math.min(this.#growth * 2, Math.max(1, next / 4));
    }
    if (Math.floor(next) <= this.limit && next <= this.#limit) return;
    this.#cutMean = undefined;
    this.#undid = false;
    this.#limit = clamp(next, 1, this.max);
  }

  /** What a cut changes, for #undo. */
  #state(): CutState {
    return {
      limit: this.#limit,
      slowStart: this.#slowStart,
      ceiling: this.#ceiling,
      since: this.#ceilingSince,
      at: this.#ceilingAt,
      hold: this.#hold,
    };
  }

  /** A queue showed at the limit over `ceiling` - 1; a failed try at the old ceiling doubles its hold. */
  #setCeiling(ceiling: number, failedTry: boolean): void {
    if (failedTry) this.#hold = Math.min(this.#hold * 2, HOLD_MAX);
    else if (this.#slowStart) this.#hold = clamp(Math.ceil((HOLD_MIN * 8) / this.limit), HOLD_FIRST, HOLD_MIN);
    this.#ceiling = Math.max(2, ceiling);
    this.#ceilingSince = this.#windows;
    this.#ceilingAt = this.#now();
  }

  #pushBase(w: Stats, samples: number[], pinned = false): void {
    if (w.n === 0) return;
    // A window clearly slower than this one was not unloaded after all (the run's first, with a
    // cold client and connections still opening; or one that still waited behind a queue): it
    // leaves the pool. A pinned window is unloaded by construction, so one clearly faster than it
    // leaves too: it is stale (the API got slower for good) or was a lucky few answers of an API
    // whose latency varies, and a floor too low takes every window for a queue.
    this.#base = this.#base.filter((b) => !clearlySlower(b, w) && !(pinned && clearlySlower(w, b)));
    this.#base.push({ ...w, samples });
    if (this.#base.length > BASE_WINDOWS) this.#base.shift();
  }

  #decrease(factor: number): void {
    this.#backoffAt = this.#now();
    // As slow start ends, the floor is re-measured if the API's latency varies: slow start's few
    // first answers may have been lucky ones. A steady API's are not (and the pool drops a cold
    // window by itself): its re-measurement cost 1–2 % of a short run and bought nothing.
    if (this.#slowStart && !this.#floorTight) this.#probeSoon = true;
    this.#slowStart = false;
    this.#outside.clear();
    this.#growth = 1;
    this.#limit = clamp(this.#limit * factor, 1, this.max);
  }
}

/**
 * Whether window `a`'s mean is clearly over `b`'s: by more than both means' noise (2 standard
 * errors), so one lucky window of an API whose latency varies does not throw out the rest, and by
 * more than 5 %.
 */
function clearlySlower(a: Stats, b: Stats): boolean {
  const se = (x: Stats) => x.variance / Math.max(1, x.n);
  return a.mean - b.mean > 2 * Math.sqrt(se(a) + se(b)) && a.mean > b.mean * 1.05;
}

/** The event loop's utilization since the last call: how much of the time our own process had no ear for an answer. */
function loopBusy(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * A window's latency is its mean: by Little's law the mean is what the queue adds to (in flight =
 * throughput × mean latency), where a median stays at the unqueued latency until half a window waits.
 */
function stats(xs: number[]): Stats {
  let sum = 0;
  for (const x of xs) sum += x;
  const n = xs.length;
  const mean = n === 0 ? 0 : sum / n;
  let sq = 0;
  for (const x of xs) sq += (x - mean) * (x - mean);
  return { n, mean, variance: n > 1 ? sq / (n - 1) : 0 };
}

interface BaseWindow extends Stats {
  readonly samples: readonly number[];
}

interface Floor extends Stats {
  readonly median: number;
  /** 1.4826 × the median absolute deviation: the standard deviation, were the latencies normal. */
  readonly spread: number;
  /** The spread is at most LATE_CV of the median: late answers can be told from the API's own. */
  readonly tight: boolean;
}

/**
 * The unloaded latency from the pooled samples of the last unloaded windows. Its median and spread
 * are robust: a stall of our own process (a GC pause, a neighbour on the core) delays every answer
 * that arrives during it, and a standard deviation would take those few for the API's own spread.
 * On a tight API those outliers (past 6 spreads) are left out of the mean too; on one whose latency
 * varies (a spread over LATE_CV of the median) nothing is: its slow answers are its own, and a mean
 * without them would make every window look inflated.
 */
function floorOf(ws: readonly BaseWindow[]): Floor {
  const all = ws.flatMap((w) => w.samples).sort((a, b) => a - b);
  const median = quantileOf(all, 0.5);
  const deviations = all.map((x) => Math.abs(x - median)).sort((a, b) => a - b);
  const spread = 1.4826 * quantileOf(deviations, 0.5);
  const tight = spread <= LATE_CV * median;
  const kept = tight ? all.filter((x) => x <= median + 6 * spread + 1e-9) : all;
  return { ...stats(kept), median, spread, tight };
}

function quantileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
}
