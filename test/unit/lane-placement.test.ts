import { describe, expect, it } from 'vitest';
import { CookieState } from '../../src/http/cookie-lanes.js';
import { LanePlacement, type LanePlacementOptions, placementLine } from '../../src/http/lane-placement.js';

const url = 'http://127.0.0.1:8080/listings';

/**
 * A round-robin balancer and lanes that take turns sending, in virtual time: each step one lane
 * sends (the placement may move it first) and takes the answer's AWSALB cookie (plus, if asked,
 * a per-lane SESSION cookie, which must not be taken for the target).
 */
function fleet(
  targets: string[],
  lanes: number,
  opts: Partial<LanePlacementOptions> & { session?: boolean; place?: (healthy: string[]) => string } = {},
) {
  const placement = new LanePlacement({ restickAfterMs: 0, ...opts });
  const healthy = new Set(targets);
  let next = 0;
  let sessions = 0;
  const roundRobin = (up: string[]) => up[next++ % up.length] as string;
  const place = opts.place ?? roundRobin;
  const ls = Array.from({ length: lanes }, () => {
    const cookies = new CookieState(url);
    return { cookies, seat: placement.seat(cookies, 0), target: '' };
  });
  let now = 0;
  let turn = 0;
  return {
    placement,
    healthy,
    lanes: ls,
    get now() {
      return now;
    },
    /** `n` requests, one lane after another, `stepMs` apart. */
    run(n: number, stepMs = 5) {
      for (let i = 0; i < n; i++) {
        now += stepMs;
        const lane = ls[turn++ % ls.length]!;
        lane.seat.beforeRequest(now);
        const stuck = lane.cookies.held.match(/^AWSALB=(.*)$/m)?.[1];
        const up = targets.filter((t) => healthy.has(t));
        lane.target = stuck !== undefined && healthy.has(stuck) ? stuck : place(up);
        const set = [`AWSALB=${lane.target}; Path=/`];
        if (opts.session && !lane.cookies.held.includes('SESSION=')) set.push(`SESSION=s${++sessions}; Path=/`);
        lane.cookies.update(set, now);
        lane.seat.answered(lane.target, now);
      }
    },
    spread() {
      const out: Record<string, number> = {};
      for (const l of ls) out[l.target] = (out[l.target] ?? 0) + 1;
      return out;
    },
  };
}

const counts = (spread: Record<string, number>) => Object.values(spread).sort((a, b) => b - a);

describe('lane placement', () => {
  it('an even spread is left alone: no lane moves, however long the run', () => {
    const f = fleet(['b1', 'b2', 'b3'], 8);
    f.run(20_000);
    expect(counts(f.spread())).toEqual([3, 3, 2]);
    expect(f.placement.report().replaced).toEqual({ uneven: 0, restickAfter: 0 });
  });

  it('a target back from down gets lanes once one lane finds it, one move at a time, then stops', () => {
    const f = fleet(['b1', 'b2', 'b3'], 8, { restickAfterMs: 2000 });
    f.healthy.delete('b3');
    f.run(390); // just under 2 s: all lanes on b1 and b2, 4 each
    expect(f.spread()).toEqual({ b1: 4, b2: 4 });
    f.healthy.add('b3');
    f.run(4000); // 20 s more
    expect(counts(f.spread())).toEqual([3, 3, 2]);
    const r = f.placement.report();
    expect(r.replaced.uneven).toBeGreaterThan(0);
    // Even now: another 20 s with the timer off would move nothing more for unevenness.
    const before = r.replaced.uneven;
    f.run(4000);
    expect(f.placement.report().replaced.uneven).toBe(before);
  });

  it('--restick-after moves each lane once per period, one at a time', () => {
    const f = fleet(['b1', 'b2'], 4, { restickAfterMs: 1000 });
    f.run(199); // just under 1 s: nothing is due
    expect(f.placement.report().replaced.restickAfter).toBe(0);
    f.run(2);
    expect(f.placement.report().replaced.restickAfter).toBe(1);
    f.run(1000); // 5 s more
    const { uneven, restickAfter } = f.placement.report().replaced;
    // One move at a time, each followed by a cool-down of 0.5 s: at most 10 in 5 s, every kind counted.
    expect(restickAfter).toBeGreaterThanOrEqual(4);
    expect(restickAfter + uneven).toBeLessThanOrEqual(11);
  });

  it('a balancer that puts a moved lane back where it was is tried a bounded number of times', () => {
    // Least outstanding, say: every unstuck request lands on b1; b2 is seen with no lane.
    let first = true;
    const f = fleet(['b1', 'b2'], 4, {
      place: (up) => {
        if (first) {
          first = false;
          return 'b2';
        }
        return up[0] as string;
      },
      pauseMs: 60_000,
    });
    // 1 lane on b2, 3 on b1: uneven (counts differ by 2), and every move from b1 lands on b1 again.
    f.run(2000); // 10 s
    const r = f.placement.report();
    // Three tries, a pause of 60 s (longer than the run): no fourth.
    expect(r.landedOnSame).toBe(3);
    expect(r.replaced.uneven).toBe(3);
    expect(counts(f.spread())).toEqual([3, 1]);
  });

  it('after a run of misses the pause doubles: tries stay few, but do not stop for good', () => {
    let first = true;
    const f = fleet(['b1', 'b2'], 4, {
      place: (up) => {
        if (first) {
          first = false;
          return 'b2';
        }
        return up[0] as string;
      },
    });
    f.run(6000); // 30 s: 3 tries, 2 s pause, 3 tries, 4 s, 3 tries, 8 s, 3 tries, 16 s…
    const { landedOnSame } = f.placement.report();
    expect(landedOnSame).toBeGreaterThanOrEqual(9);
    expect(landedOnSame).toBeLessThanOrEqual(12);
  });

  it('a lane whose answers never come does not hold judging up for ever', () => {
    const f = fleet(['b1', 'b2', 'b3'], 6, { restickAfterMs: 0 });
    f.run(60);
    // A seventh lane sends but never gets an answer it keeps (its target answers 5xx, say).
    const silent = f.placement.seat(new CookieState(url), f.now);
    f.healthy.delete('b3');
    for (let i = 0; i < 2000; i++) {
      silent.beforeRequest(f.now);
      f.run(1);
    }
    expect(f.placement.report().replaced.uneven).toBeGreaterThan(0);
  });

  it('tells targets apart by the balancer cookie, not a per-lane session cookie; names are hashed', () => {
    const f = fleet(['b1', 'b2', 'b3'], 6, { session: true });
    f.run(600);
    const r = f.placement.report();
    expect(r.by).toBe('cookie AWSALB');
    expect(Object.values(r.lanesPerTarget)).toEqual([2, 2, 2]);
    for (const name of Object.keys(r.lanesPerTarget)) expect(name).toMatch(/^#[0-9a-f]{8}$/);
    expect(placementLine(r)).toMatch(
      /^ {2}lanes per target \(by cookie AWSALB, hashed\): #[0-9a-f]{8} 2, #[0-9a-f]{8} 2, #[0-9a-f]{8} 2; re-placed 0 lanes$/,
    );
  });

  it('with --target-header the header names the targets', () => {
    const f = fleet(['b1', 'b2', 'b3'], 6, { targetHeader: 'x-backend' });
    f.run(600);
    const r = f.placement.report();
    expect(r).toMatchObject({ by: 'header x-backend', lanesPerTarget: { b1: 2, b2: 2, b3: 2 } });
  });

  it('a dead target stops counting once no lane has answered from it for a while', () => {
    const f = fleet(['b1', 'b2', 'b3'], 6, { seenTtlMs: 3000 });
    f.run(200);
    f.healthy.delete('b3');
    // b3's lanes are placed anew by the balancer (as a failed target's lanes are) onto b1 and b2.
    f.run(2000);
    expect(counts(f.spread())).toEqual([3, 3]);
    // The moves tried toward b3 (it was seen) stop once it ages out: bounded, not one per judging.
    expect(f.placement.report().replaced.uneven).toBeLessThanOrEqual(3);
  });
});
