import { createHash } from 'node:crypto';
import type { CookieState } from './cookie-lanes.js';

/**
 * Lanes follow a changing fleet. A sticky lane stays on the target the balancer first gave it,
 * so a target that comes back (or is added when the API scales out) would get no traffic for the
 * rest of the run: behind HAProxy, after a server was re-enabled none of 8 lanes returned to it.
 * Here one lane at a time drops its cookies between two requests, and the balancer places it anew:
 *
 * - when lanes are spread unevenly over the targets seen recently (a target seen with no lane while
 *   another has two or more, or lane counts differing by more than one): a lane of the most
 *   crowded target moves. The balancer may put it right back (round robin, least outstanding):
 *   after a few such misses in a row, uneven spreads are left alone for a while;
 * - when a lane has held its target for `restickAfterMs` (`--restick-after`): a target added, or
 *   back before any lane noticed, can only be found by asking the balancer again.
 *
 * A target is named by `--target-header` (a response header naming the instance), or else by the
 * value of the balancer's cookie: the cookie all placed lanes hold with the fewest distinct values
 * (a per-lane session cookie has one value per lane; AWSALB one per target). Equal value = same target.
 *
 * The per-request part (LaneSeat.beforeRequest / answered) is a few comparisons, no allocation;
 * the judging walks the lanes, and runs at most once per `max(8, lanes)` answers and per 100 ms, and
 * never within a cool-down of the last move, so its cost per request stays constant and small.
 */
export interface LanePlacementOptions {
  /** A lane re-asks the balancer after holding its target this long; 0 = never. */
  readonly restickAfterMs: number;
  /** The lower-cased response header naming the target, if the API has one. */
  readonly targetHeader?: string | undefined;
  /** A target no lane has answered from for this long stops counting (a dead one, say). */
  readonly seenTtlMs?: number;
  /** A lane that has neither sent nor answered for this long is idle (the limit shrank) and not counted. */
  readonly activeMs?: number;
  /** After a move has landed, this long before the spread is judged again. */
  readonly coolDownMs?: number;
  /** This many uneven moves in a row landing on the target they left pause uneven moves. */
  readonly maxMisses?: number;
  /** The first such pause; it doubles on each further run of misses, up to 5 minutes. */
  readonly pauseMs?: number;
}

export type ReplaceReason = 'uneven' | 'restick-after';

export interface PlacementReport {
  /** How targets were told apart: `header x-backend` or `cookie AWSALB` (or none seen yet). */
  readonly by: string;
  /** Target (the header's value, or a short hash of the cookie's value) → lanes on it at the end. */
  readonly lanesPerTarget: Readonly<Record<string, number>>;
  readonly replaced: { readonly uneven: number; readonly restickAfter: number };
  /** Moves whose lane the balancer put back on the target it left. */
  readonly landedOnSame: number;
  readonly restickAfterMs: number;
}

/** Balancer cookies by name: preferred when counts tie (AWSALBCORS carries AWSALB's value). */
const KNOWN = ['AWSALB', 'AWSALBAPP', 'AWSALBTG', 'SERVERID'];
const PAUSE_CAP_MS = 300_000;
/** A lane told to move that sends nothing for this long (idle) is let off; a move that never lands is given up. */
const MARK_TIMEOUT_MS = 5000;
const LANDING_TIMEOUT_MS = 30_000;
const JUDGE_EVERY_MS = 100;
/** No move for evenness this soon after a lane fled a failing target. */
const FAILURE_QUIET_MS = 5000;

/** One lane's placement state, kept on the lane so the hot path needs no lookup. */
export class LaneSeat {
  /** Last request begun or answer taken: the lane is in use. */
  usedAt: number;
  /** When the lane last got (or asked for) a target: the --restick-after clock. */
  placedAt: number;
  /** The last --target-header value from an answer that keeps cookies. */
  header: string | undefined = undefined;
  /** Whether an answer came since the lane was made or moved. */
  hasAnswered = false;
  /** Set by judging: drop the cookies before the next request. */
  move: ReplaceReason | undefined = undefined;
  /** Cookie pairs parsed at the last judging, re-parsed only when the jar changed. */
  parsedFrom = '';
  pairs: ReadonlyMap<string, string> = new Map();

  constructor(
    private readonly placement: LanePlacement,
    readonly cookies: CookieState,
    now: number,
  ) {
    this.usedAt = now;
    this.placedAt = now;
  }

  /** Called as a request is about to take its Cookie header: the only point a lane may move. */
  beforeRequest(now: number): void {
    this.usedAt = now;
    const p = this.placement;
    if (this.move !== undefined) p.moveNow(this, this.move, now);
    else if (p.restickAfterMs > 0 && now - this.placedAt >= p.restickAfterMs && p.mayRestick(now))
      p.moveNow(this, 'restick-after', now);
  }

  /**
   * Called before the lane drops its cookies because its target keeps failing: that target is no
   * longer "seen" (moving lanes toward it would only feed it more failures) until a lane answers
   * from it again.
   */
  leaving(now: number): void {
    this.placement.forget(this, now);
    this.header = undefined;
  }

  /** Called after an answer whose cookies were kept (2xx, 4xx), with the target header's value. */
  answered(header: string | undefined, now: number): void {
    this.usedAt = now;
    this.hasAnswered = true;
    if (header !== undefined) this.header = header;
    this.placement.answered(this, now);
  }
}

export class LanePlacement {
  readonly restickAfterMs: number;
  readonly #header: string | undefined;
  readonly #seenTtlMs: number;
  readonly #activeMs: number;
  readonly #coolDownMs: number;
  readonly #maxMisses: number;
  readonly #pauseMs: number;
  readonly #seats: LaneSeat[] = [];
  /** Target → when a lane last answered from it (aged out after seenTtlMs). */
  readonly #seen = new Map<string, number>();
  #answers = 0;
  #quietUntil = 0;
  /** Judging walks every lane: at most every JUDGE_EVERY_MS, whatever the request rate. */
  #nextJudgeAt = 0;
  #lastAnswerAt = 0;
  /** The lane told to move (waiting for its next request), and the one moved (waiting for its answer). */
  #marked: LaneSeat | undefined;
  #markedAt = 0;
  #moving: LaneSeat | undefined;
  #movingFrom: string | undefined;
  #movingReason: ReplaceReason = 'uneven';
  /** The fewest lanes on a target seen when the uneven move was decided: the move helps if it lands on one as empty. */
  #goal = 0;
  #movedAt = 0;
  #misses = 0;
  #pausedUntil = 0;
  #nextPauseMs: number;
  #cookieName: string | undefined;
  readonly #replaced = { uneven: 0, restickAfter: 0 };
  #landedOnSame = 0;

  constructor(opts: LanePlacementOptions) {
    this.restickAfterMs = opts.restickAfterMs;
    this.#header = opts.targetHeader;
    this.#seenTtlMs = opts.seenTtlMs ?? 30_000;
    this.#activeMs = opts.activeMs ?? 10_000;
    this.#coolDownMs = opts.coolDownMs ?? 500;
    this.#maxMisses = opts.maxMisses ?? 3;
    this.#pauseMs = opts.pauseMs ?? 2000;
    this.#nextPauseMs = this.#pauseMs;
  }

  /** A new lane's seat. */
  seat(cookies: CookieState, now = Date.now()): LaneSeat {
    const s = new LaneSeat(this, cookies, now);
    this.#seats.push(s);
    return s;
  }

  /** Restick one lane at a time, and not while the spread settles after a move. */
  mayRestick(now: number): boolean {
    return this.#marked === undefined && this.#moving === undefined && now >= this.#quietUntil;
  }

  /** Drops the lane's cookies: its next request goes to the balancer unstuck. */
  moveNow(seat: LaneSeat, reason: ReplaceReason, now: number): void {
    if (this.#marked === seat) this.#marked = undefined;
    seat.move = undefined;
    if (this.#moving !== undefined && this.#moving !== seat) return; // one at a time
    this.#movingFrom = this.#targetOf(seat);
    this.#moving = seat;
    this.#movingReason = reason;
    this.#movedAt = now;
    if (reason === 'uneven') this.#replaced.uneven++;
    else this.#replaced.restickAfter++;
    seat.cookies.drop();
    seat.hasAnswered = false;
    seat.placedAt = now;
  }

  /**
   * A lane flees a failing target. The balancer may still route to it (a sick app its health check
   * has not caught), so a lane moved for evenness now could land there: let the fleet settle first.
   */
  forget(seat: LaneSeat, now: number): void {
    const target = this.#targetOf(seat);
    if (target !== undefined) this.#seen.delete(target);
    this.#quietUntil = Math.max(this.#quietUntil, now + FAILURE_QUIET_MS);
  }

  answered(seat: LaneSeat, now: number): void {
    this.#lastAnswerAt = now;
    if (seat === this.#moving) this.#landed(seat, now);
    if (++this.#answers >= Math.max(8, this.#seats.length) && now >= this.#quietUntil && now >= this.#nextJudgeAt)
      this.#judge(now);
  }

  /** The moved lane's first answer: where did the balancer put it? */
  #landed(seat: LaneSeat, now: number): void {
    const to = this.#targetOf(seat);
    if (to === undefined) return; // not placed yet (no cookie in this answer): wait for the next
    this.#moving = undefined;
    this.#quietUntil = now + this.#coolDownMs;
    this.#answers = 0;
    if (to === this.#movingFrom) this.#landedOnSame++;
    if (this.#movingReason !== 'uneven') return;
    if (to !== this.#movingFrom && this.#lanesOn(to, seat, now) <= this.#goal) {
      this.#misses = 0;
      this.#nextPauseMs = this.#pauseMs;
      return;
    }
    // Back where it was, or onto a target no emptier than the one it left: no better spread.
    if (++this.#misses < this.#maxMisses) return;
    // The balancer keeps placing us where we were (its rotation, or least outstanding): stop trying for a while.
    this.#misses = 0;
    this.#pausedUntil = now + this.#nextPauseMs;
    this.#nextPauseMs = Math.min(this.#nextPauseMs * 2, PAUSE_CAP_MS);
  }

  /** Looks at the spread and, if uneven, tells one lane of the most crowded target to move. */
  #judge(now: number): void {
    this.#answers = 0;
    this.#nextJudgeAt = now + JUDGE_EVERY_MS;
    if (this.#marked !== undefined) {
      if (now - this.#markedAt < MARK_TIMEOUT_MS) return;
      this.#marked.move = undefined; // idle lane: choose again
      this.#marked = undefined;
    }
    if (this.#moving !== undefined) {
      if (now - this.#movedAt < LANDING_TIMEOUT_MS) return;
      this.#moving = undefined; // never landed (its answers all failed): stop waiting
    }
    const lanes = this.#placedLanes(now);
    if (lanes === undefined) return;
    for (const [target] of lanes) this.#seen.set(target, now);
    for (const [target, at] of this.#seen) if (now - at > this.#seenTtlMs) this.#seen.delete(target);
    if (now < this.#pausedUntil) return;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let crowded: string | undefined;
    for (const target of this.#seen.keys()) {
      const n = lanes.get(target)?.length ?? 0;
      if (n < min) min = n;
      if (n > max) {
        max = n;
        crowded = target;
      }
    }
    const uneven = (min === 0 && max >= 2) || max - min > 1;
    if (!uneven || crowded === undefined) return;
    // The lane of that target used last: likely to send again soon, so the move happens promptly.
    let pick: LaneSeat | undefined;
    for (const s of lanes.get(crowded) ?? []) if (!pick || s.usedAt > pick.usedAt) pick = s;
    if (!pick) return;
    pick.move = 'uneven';
    this.#goal = min;
    this.#marked = pick;
    this.#markedAt = now;
  }

  /** Lanes in use on `target`, `seat` left out (the move's landing: a rare event, so a walk is fine). */
  #lanesOn(target: string, seat: LaneSeat, now: number): number {
    let n = 0;
    for (const s of this.#seats)
      if (s !== seat && s.hasAnswered && now - s.usedAt <= this.#activeMs && this.#targetOf(s) === target) n++;
    return n;
  }

  /**
   * Target → lanes in use on it, or undefined while a lane in use has not been placed yet (its
   * target will be known at its answer; judging before would see a gap that is being filled).
   */
  #placedLanes(now: number): Map<string, LaneSeat[]> | undefined {
    const active = this.#seats.filter((s) => now - s.usedAt <= this.#activeMs);
    // A lane whose answers keep failing since it was placed does not hold judging up for ever.
    if (active.some((s) => !s.hasAnswered && now - s.placedAt < MARK_TIMEOUT_MS)) return undefined;
    if (this.#header === undefined) this.#cookieName = this.#chooseCookie(active);
    const out = new Map<string, LaneSeat[]>();
    for (const s of active) {
      const t = this.#targetOf(s);
      if (t === undefined) continue; // a lane that holds no sticky cookie is not placed anywhere
      const list = out.get(t);
      if (list) list.push(s);
      else out.set(t, [s]);
    }
    return out;
  }

  /** The lane's target: its header's value, or its balancer cookie's value; undefined when not sticky. */
  #targetOf(seat: LaneSeat): string | undefined {
    const held = seat.cookies.held;
    if (held === '') return undefined; // not stuck: the balancer places each request on its own
    if (this.#header !== undefined) return seat.header;
    const name = this.#cookieName ?? this.#chooseCookie([seat]);
    return name === undefined ? undefined : pairsOf(seat).get(name);
  }

  /**
   * The balancer's cookie: held by every lane that holds cookies, with the fewest distinct values
   * (a target's cookie repeats across the lanes on it; a session cookie differs per lane).
   */
  #chooseCookie(seats: readonly LaneSeat[]): string | undefined {
    const values = new Map<string, Set<string>>();
    let holders = 0;
    for (const s of seats) {
      const pairs = pairsOf(s);
      if (pairs.size === 0) continue;
      holders++;
      for (const [name, value] of pairs) {
        const set = values.get(name) ?? new Set<string>();
        set.add(value);
        values.set(name, set);
      }
    }
    let best: string | undefined;
    let bestCount = Number.POSITIVE_INFINITY;
    for (const [name, set] of values) {
      const everywhere = seats.every((s) => pairsOf(s).size === 0 || pairsOf(s).has(name));
      if (!everywhere || holders === 0) continue;
      const better =
        set.size < bestCount ||
        (set.size === bestCount && best !== undefined && rank(name) < rank(best)) ||
        (set.size === bestCount && best !== undefined && rank(name) === rank(best) && name < best);
      if (better) {
        best = name;
        bestCount = set.size;
      }
    }
    return best ?? this.#cookieName;
  }

  /** Lanes per target at the end (the lanes in use last), and the moves made. */
  report(): PlacementReport {
    const end = this.#lastAnswerAt;
    const lanes = end === 0 ? new Map<string, LaneSeat[]>() : (this.#placedLanesLoosely(end) ?? new Map());
    const lanesPerTarget: Record<string, number> = {};
    const sorted = [...lanes].sort((a, b) => b[1].length - a[1].length);
    for (const [target, list] of sorted) lanesPerTarget[this.#shown(target)] = list.length;
    const by =
      this.#header !== undefined
        ? `header ${this.#header}`
        : this.#cookieName !== undefined
          ? `cookie ${this.#cookieName}`
          : 'none';
    return {
      by,
      lanesPerTarget,
      replaced: { ...this.#replaced },
      landedOnSame: this.#landedOnSame,
      restickAfterMs: this.restickAfterMs,
    };
  }

  /** Like #placedLanes, but counting what is known even if a lane never answered. */
  #placedLanesLoosely(now: number): Map<string, LaneSeat[]> {
    const active = this.#seats.filter((s) => now - s.usedAt <= this.#activeMs && s.hasAnswered);
    if (this.#header === undefined) this.#cookieName = this.#chooseCookie(active) ?? this.#cookieName;
    const out = new Map<string, LaneSeat[]>();
    for (const s of active) {
      const t = this.#targetOf(s);
      if (t !== undefined) out.set(t, [...(out.get(t) ?? []), s]);
    }
    return out;
  }

  /** A header value as the API gave it (cut short); a cookie value never: a short hash stands for it. */
  #shown(target: string): string {
    if (this.#header !== undefined) return target.length > 40 ? `${target.slice(0, 39)}…` : target;
    return `#${createHash('sha256').update(target).digest('hex').slice(0, 8)}`;
  }
}

function rank(name: string): number {
  const i = KNOWN.indexOf(name);
  return i < 0 ? KNOWN.length : i;
}

/** The seat's cookie pairs, parsed again only when the jar changed what it holds. */
function pairsOf(seat: LaneSeat): ReadonlyMap<string, string> {
  const held = seat.cookies.held;
  if (held === seat.parsedFrom) return seat.pairs;
  const pairs = new Map<string, string>();
  for (const line of held.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) pairs.set(line.slice(0, eq), line.slice(eq + 1));
  }
  seat.parsedFrom = held;
  seat.pairs = pairs;
  return pairs;
}

/** The report's summary line. */
export function placementLine(r: PlacementReport): string {
  const spread = Object.entries(r.lanesPerTarget)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const total = r.replaced.uneven + r.replaced.restickAfter;
  const why = total > 0 ? ` (${r.replaced.uneven} uneven, ${r.replaced.restickAfter} restick-after)` : '';
  const same = r.landedOnSame > 0 ? `, ${r.landedOnSame} placed back on the same target` : '';
  const by = r.by === 'none' ? '' : ` (by ${r.by}${r.by.startsWith('cookie') ? ', hashed' : ''})`;
  return `  lanes per target${by}: ${spread || 'none placed'}; re-placed ${total} lanes${why}${same}`;
}
