import { describe, expect, it } from 'vitest';
import { simulate as simulateBench } from '../../bench/adaptive/simulate.js';
import { AdaptiveLimit, type AttemptOutcome, LatencyHistogram } from '../../src/http/adaptive-limit.js';

/**
 * A capacity model driven on a virtual clock: k workers of s ms each, a FIFO queue of q, an
 * immediate 503 beyond it. The client keeps `limit` attempts in flight, as the HTTP sink does.
 */
function simulate(opts: { k: (t: number) => number; s: number; q: number; until: number; max?: number }) {
  let t = 0;
  const lim = new AdaptiveLimit({ max: opts.max ?? 256, now: () => t });
  const busy: number[] = []; // finish times of requests being worked on
  const queued: number[] = []; // start stamps of queued requests (their client start)
  const pending: { at: number; start: number; outcome: 'ok' | 'overload' }[] = [];
  const timeline: { t: number; limit: number }[] = [];
  let errors = 0;
  for (let steps = 0; t < opts.until && steps < 2_000_000; steps++) {
    while (lim.inFlight < lim.limit && lim.waitMs() === 0) {
      const start = lim.begin();
      if (busy.length < opts.k(t)) {
        busy.push(t + opts.s);
        pending.push({ at: t + opts.s, start, outcome: 'ok' });
      } else if (queued.length < opts.q) queued.push(start);
      else {
        errors++;
        pending.push({ at: t + 0.5, start, outcome: 'overload' });
      }
    }
    pending.sort((a, b) => a.at - b.at);
    const next = pending.shift();
    if (!next) break;
    t = next.at;
    if (next.outcome === 'ok') {
      busy.splice(busy.indexOf(next.at), 1);
      const waiting = queued.shift();
      if (waiting !== undefined) {
        busy.push(t + opts.s);
        pending.push({ at: t + opts.s, start: waiting, outcome: 'ok' });
      }
    }
    lim.end(next.start, next.outcome);
    timeline.push({ t, limit: lim.limit });
  }
  const between = (a: number, b: number) => timeline.filter((p) => p.t >= a && p.t < b).map((p) => p.limit);
  return { lim, timeline, between, errors };
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('AdaptiveLimit', () => {
  it('converges near the knee (k = 8) in bounded time and holds it', () => {
    const { between } = simulate({ k: () => 8, s: 20, q: 16, until: 10_000 });
    const late = between(3_000, 10_000);
    // Near the knee nearly all the time (the dips are the periodic re-measurements of the floor).
    expect(late.filter((l) => l >= 6).length / late.length).toBeGreaterThan(0.9);
    expect(Math.max(...late)).toBeLessThanOrEqual(8 + 16);
    expect(avg(late)).toBeGreaterThanOrEqual(7);
    expect(avg(late)).toBeLessThanOrEqual(16);
  });

  it('follows the knee when it moves up (8 → 24) and back down (24 → 8)', () => {
    const k = (t: number) => (t < 5_000 || t >= 12_000 ? 8 : 24);
    const { between } = simulate({ k, s: 20, q: 16, until: 20_000 });
    const before = avg(between(3_000, 5_000));
    const after = avg(between(8_000, 12_000));
    const back = avg(between(15_000, 20_000));
    expect(before).toBeLessThan(16);
    expect(after).toBeGreaterThanOrEqual(22);
    expect(after).toBeLessThanOrEqual(24 + 16);
    expect(back).toBeLessThan(16);
  });

  it('finds a knee of 128 and never exceeds --max-concurrency', () => {
    const high = simulate({ k: () => 128, s: 20, q: 64, until: 10_000 });
    expect(avg(high.between(4_000, 10_000))).toBeGreaterThanOrEqual(110);
    const capped = simulate({ k: () => 128, s: 20, q: 64, until: 5_000, max: 32 });
    expect(Math.max(...capped.timeline.map((p) => p.limit))).toBe(32);
  });

  it('backs off multiplicatively on an overload and never goes below 1', () => {
    let t = 0;
    const lim = new AdaptiveLimit({ max: 100, initial: 64, now: () => t });
    const s = lim.begin();
    t = 1;
    lim.end(s, 'overload');
    expect(lim.limit).toBe(44);
    // Attempts in flight at the backoff do not back off again: one reduction per round trip.
    const together = Array.from({ length: 10 }, () => lim.begin());
    t = 2;
    for (const x of together) lim.end(x, 'overload');
    expect(lim.limit).toBe(31); // 44.8 × 0.7 once, not 0.7¹⁰
    for (let i = 0; i < 50; i++) {
      const x = lim.begin();
      t += 1;
      lim.end(x, 'overload');
    }
    expect(lim.limit).toBe(1);
  });

  it('a Retry-After halves the limit and holds every attempt until it passes', () => {
    let t = 0;
    const lim = new AdaptiveLimit({ max: 100, initial: 20, now: () => t });
    const s = lim.begin();
    t = 10;
    lim.end(s, 'overload', 2000);
    expect(lim.waitMs()).toBe(2000);
    expect(lim.limit).toBeLessThanOrEqual(10);
    t = 1500;
    expect(lim.waitMs()).toBe(510);
    t = 2010;
    expect(lim.waitMs()).toBe(0);
  });

  it('the minimum latency rises again when the API gets slower for good', () => {
    let t = 0;
    const lim = new AdaptiveLimit({ max: 8, initial: 4, now: () => t, probeEvery: 5 });
    const feed = (ms: number, n: number) => {
      for (let i = 0; i < n; i++) {
        const s = lim.begin();
        t += ms;
        lim.end(s, 'ok');
      }
    };
    feed(10, 40);
    expect(lim.minLatencyMs).toBe(10);
    feed(50, 200);
    expect(lim.minLatencyMs).toBe(50);
  });

  it('reports quantiles from a bounded histogram within 5 %', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.add(i);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(500);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(525);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(990);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(1040);
  });
});

describe('AdaptiveLimit brakes', () => {
  it('lanes answering Retry-After together brake once (one halving), the pause extended to the latest', () => {
    let t = 0;
    const lim = new AdaptiveLimit({ max: 100, initial: 40, now: () => t });
    const starts = Array.from({ length: 10 }, () => lim.begin());
    for (const s of starts) {
      t += 1;
      lim.end(s, 'overload', 1000);
    }
    expect(lim.brakes).toBe(1);
    expect(lim.waitMs()).toBe(1000);
    // The brake halves (40 → 20), the one backoff for that round trip takes 0.7 of it.
    expect(lim.limit).toBe(14);
  });
});

describe('AdaptiveLimit against the adaptive bench, on a virtual clock (bench/adaptive/simulate.ts)', () => {
  const seconds = 7;
  const run = (
    knee: number,
    concurrency: number | 'auto',
    extra: { sigma?: number; stallEveryMs?: number; stallMs?: number } = {},
  ) => simulateBench({ knee, serviceMs: 40, concurrency, seconds, seed: 1, ...extra });

  it.each([8, 32, 128])(
    'knee %i, workers finishing in step: no queue held (p99 near the fixed knee), ≥ 90 percent of the best rows/s',
    (knee) => {
      const atKnee = run(knee, knee);
      const best = run(knee, knee * 2);
      const auto = run(knee, 'auto');
      // One request over the knee waits a whole service time here (requests started together end
      // together): the limiter that held a queue of 2–22 over the knee measured 1.9–2.0 × in this model.
      expect(auto.p99 / atKnee.p99).toBeLessThanOrEqual(1.1);
      expect(auto.perSec / best.perSec).toBeGreaterThanOrEqual(0.9);
      expect(auto.refusedShare).toBe(0);
    },
  );

  it.each([
    [0.3, 0.85],
    [1, 0.6],
  ])(
    'an API whose latency varies (lognormal σ %f) is not taken for a queue: ≥ %f of the best rows/s',
    (sigma, share) => {
      // The limiter that took the minimum of its windows' means for the floor walked down to 1 here
      // (at σ 0.3, 32 % of the best at knee 8; at σ 1, 14 %, 4 % and 1 % at knees 8, 32 and 128).
      // Medians of three seeds: one run of a long-tailed API swings.
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] as number;
      for (const knee of [8, 32, 128]) {
        const shares = [1, 2, 3].map((seed) => {
          const best = simulateBench({ knee, serviceMs: 40, concurrency: knee * 2, seconds, seed, sigma });
          const auto = simulateBench({ knee, serviceMs: 40, concurrency: 'auto', seconds, seed, sigma });
          expect(auto.refusedShare, `knee ${knee}`).toBeLessThanOrEqual(0.01);
          return auto.perSec / best.perSec;
        });
        expect(median(shares), `knee ${knee}: ${shares.map((x) => x.toFixed(2)).join(' ')}`).toBeGreaterThanOrEqual(
          share,
        );
      }
    },
  );

  /** A limiter on a virtual clock, driven a round trip of its whole limit at a time. */
  const rounds = (busy?: () => number) => {
    let t = 0;
    const lim = new AdaptiveLimit({ max: 256, now: () => t, busy });
    /** `lat(i, limit)` is the i-th attempt's latency in a round at `limit`; `outcome`, how every attempt of it ends. */
    const round = (lat: (i: number, limit: number) => number, outcome: AttemptOutcome = 'ok') => {
      const limit = lim.limit;
      const starts = Array.from({ length: limit }, () => {
        t += 0.001;
        return lim.begin();
      });
      const ends = starts.map((start, i) => ({ start, at: start + lat(i, limit) })).sort((a, b) => a.at - b.at);
      for (const e of ends) {
        t = Math.max(t, e.at);
        lim.end(e.start, outcome);
      }
      t += 0.5;
    };
    return { lim, round };
  };
  const steady = (i: number) => 40 + (i % 5) * 0.2;
  /** The last third a whole service time late: the pattern of a step past a knee. */
  const queued = (i: number, limit: number) => (i >= (limit * 2) / 3 ? 80 : steady(i));

  it('a window whose answers all came late together (our own stall) does not end slow start; a third late does', () => {
    // On two cores, the first second of a real run stalls our own process 10–25 ms at a time:
    // 43 of 68 answers of a slow-start window came late with nothing queued at the API, and slow
    // start ended at 45 against a knee of 128.
    const stalled = rounds();
    while (stalled.lim.limit < 60) stalled.round(steady);
    const before = stalled.lim.limit;
    stalled.round((i) => 62 + (i % 5) * 0.2);
    expect(stalled.lim.limit).toBe(before);
    stalled.round(steady);
    stalled.round(steady);
    expect(stalled.lim.limit).toBeGreaterThanOrEqual(before * 2);
    // A step of × 1.5 past a knee queues its last third a whole service time: cut at once.
    const overshot = rounds();
    while (overshot.lim.limit < 60) overshot.round(steady);
    const at = overshot.lim.limit;
    overshot.round((i, limit) => (i >= (limit * 2) / 3 ? 80 : steady(i)));
    expect(overshot.lim.limit).toBeLessThan(at);
  });

  it('at a small knee behind a client of its own jitter, a try one over the knee that lifts the mean a request is a failed try', () => {
    // At a knee of 8 behind ~5 ms of a cold client's own, 9 in flight ran at 45 ms, 10 at 49, 11
    // at 53, none of them late (the one over waits a few ms, not a whole service time): tries at
    // 10 passed (1.09 × the floor, under GROW_BELOW), the limit sat at 10–11, and 1 % of a 7 s
    // run's answers waited behind the knee.
    const { lim, round } = rounds();
    const atKnee = (i: number, limit: number) => 45 + Math.max(0, limit - 9) * 4 + (i % 3) * 0.3;
    const limits: number[] = [];
    for (let r = 0; r < 120; r++) {
      round(atKnee);
      if (r >= 40) limits.push(lim.limit);
    }
    expect(Math.max(...limits)).toBeLessThanOrEqual(10);
    expect(avg(limits)).toBeLessThan(9.5);
  });

  it('a window that looks queued while our own loop was busy holds the limit; a queue that stays is cut', () => {
    // In a real run's first 1–2 s the client's own loop ran 0.55–0.85 busy in the windows that
    // ended slow start at 45 and 102 in flight (a knee of 128): their answers were late at the
    // client, while the API saw none over 54 ms and nothing queued.
    let busy = 0;
    const { lim, round } = rounds(() => busy);
    while (lim.limit < 60) round(steady);
    const before = lim.limit;
    // `queued`, a step past a knee, is cut at once when our loop is idle (the test above).
    busy = 0.8;
    round(queued);
    expect(lim.limit).toBe(before);
    // The next window (its attempts began during the busy one) is excused too; a clean one grows.
    busy = 0.2;
    round(queued);
    expect(lim.limit).toBe(before);
    round(steady);
    expect(lim.limit).toBeGreaterThan(before);
    // A client busy for good still cuts a queue that stays: in slow start at most four windows in
    // a row are excused (a run's start-up is the client's busiest time)…
    busy = 0.9;
    const grown = lim.limit;
    for (let r = 0; r < 4; r++) round(queued);
    expect(lim.limit).toBe(grown);
    round(queued);
    expect(lim.limit).toBeLessThan(grown);
    // …and past it, two.
    let idle = 0;
    const past = rounds(() => idle);
    while (past.lim.limit < 60) past.round(steady);
    past.round(queued); // slow start ends at once on a queue our loop had no part in
    for (let r = 0; r < 12; r++) past.round(steady);
    const held = past.lim.limit;
    idle = 0.9;
    past.round(queued);
    past.round(queued);
    expect(past.lim.limit).toBe(held);
    past.round(queued);
    expect(past.lim.limit).toBeLessThan(held);
  });

  it('a cut made while our loop was busy is taken back when the loop is idle and the cut limit clean; a real queue is cut again', () => {
    // In real runs at a knee of 128 the client's own start-up ended slow start at 48–84 in flight
    // (its loop 0.55–0.83 busy for five windows), and later cut 184 to 140 with the loop 0.77
    // busy: each climb back took a second of an 8-second run.
    let busy = 0;
    const { lim, round } = rounds(() => busy);
    while (lim.limit < 60) round(steady);
    const before = lim.limit;
    busy = 0.9;
    for (let r = 0; r < 5; r++) round(queued);
    expect(lim.limit).toBeLessThan(before);
    // Our loop idle again, and the lower limit clean: the cut was ours. Slow start goes on.
    busy = 0.2;
    round(steady);
    expect(lim.limit).toBe(before);
    round(steady);
    expect(lim.limit).toBeGreaterThanOrEqual(before * 2);

    // A queue that is the API's: cut while busy, taken back, queued again at the restored limit
    // (our loop idle now), cut again, and that cut stays.
    const api = rounds(() => busy);
    busy = 0;
    while (api.lim.limit < 60) api.round(steady);
    const knee = api.lim.limit - 10;
    const atKnee = (i: number, limit: number) => (limit > knee && i >= knee ? 80 : steady(i));
    busy = 0.9;
    for (let r = 0; r < 5; r++) api.round(atKnee);
    const first = api.lim.limit;
    expect(first).toBeLessThanOrEqual(knee + 1);
    busy = 0.2;
    api.round(atKnee);
    expect(api.lim.limit).toBeGreaterThan(knee);
    busy = 0;
    const limits: number[] = [];
    for (let r = 0; r < 12; r++) {
      api.round(atKnee);
      limits.push(api.lim.limit);
    }
    // Cut at once (a known ceiling was tried, or the queue showed twice), and held at the knee.
    expect(
      limits.slice(2).every((l) => l <= knee + 1),
      limits.join(' '),
    ).toBe(true);
  });

  it('a queue-looking window the next one does not confirm halves the climb, not restarts it at +1', () => {
    // After slow start ended early at a knee of 128, windows of a few late answers (our own jitter)
    // that the next window did not confirm restarted the climb at +1 seven times: 63 → 127 took 2.2 s.
    const { lim, round } = rounds();
    while (lim.limit < 60) round(steady);
    round(queued); // slow start ends
    const climb = [lim.limit];
    for (let r = 0; r < 14 && lim.limit - (climb[climb.length - 2] ?? lim.limit) < 8; r++) {
      round(steady);
      climb.push(lim.limit);
    }
    const before = lim.limit;
    const step = before - (climb[climb.length - 2] as number);
    expect(step, climb.join(' ')).toBeGreaterThanOrEqual(8);
    expect(before).toBeLessThan(200);
    round((i) => (i < 2 ? 70 : steady(i))); // two late answers, not confirmed
    expect(lim.limit).toBe(before);
    round(steady);
    expect(lim.limit - before).toBeGreaterThanOrEqual(step / 2);
  });

  it('a busy cut is never undone by a window of 503s: the overload backs off further', () => {
    // Paired with the undo above: a window the API refuses is not "clean at the cut limit".
    let busy = 0;
    const { lim, round } = rounds(() => busy);
    while (lim.limit < 60) round(steady);
    busy = 0.9;
    for (let r = 0; r < 5; r++) round(queued);
    const cut = lim.limit;
    busy = 0;
    round(steady, 'overload');
    expect(lim.limit).toBeLessThan(cut);
    const backedOff = lim.limit;
    round(steady);
    expect(lim.limit).toBeLessThanOrEqual(Math.ceil(backedOff * 1.5));
    expect(lim.limit).toBeLessThan(cut);
  });

  it('a busy loop excuses latency only: 503s from an API that refuses everything still back off', () => {
    // Paired with the rule above: an overload answer is the API's own word, busy client or not.
    let t = 0;
    const lim = new AdaptiveLimit({ max: 256, now: () => t, busy: () => 0.95 });
    const limits: number[] = [];
    for (let r = 0; r < 6; r++) {
      const starts = Array.from({ length: lim.limit }, () => {
        t += 0.001;
        return lim.begin();
      });
      t += 1;
      for (const s of starts) lim.end(s, 'overload');
      t += 1;
      limits.push(lim.limit);
    }
    expect(limits[0]).toBeLessThan(4);
    expect(lim.limit).toBe(1);
  });

  it('trims of a request or two do not re-measure the floor (a window pinned at a quarter)', () => {
    // A cut whose next cut's window is no faster re-measures the floor (it was too low: the cut
    // did not bring the latency down). So did every trim of one or two, which cannot move the mean:
    // three pins in 2 s at a knee of 128 in a real run, each a window at a quarter of the limit.
    const { lim, round } = rounds();
    let knee = 100;
    const atKnee = (i: number, limit: number) => (limit > knee && i >= knee ? 80 : steady(i));
    const limits: number[] = [];
    for (let r = 0; r < 60; r++) {
      // The knee creeps down 2 at a time (a neighbour starts loading the API): a trim each time.
      if (r >= 20 && r % 4 === 0) knee -= 2;
      round(atKnee);
      if (r >= 15) limits.push(lim.limit);
    }
    expect(lim.limit).toBeLessThanOrEqual(knee + 1);
    expect(Math.min(...limits)).toBeGreaterThan(knee / 2);
  });

  it('slow start holds its limit while the client warms up, so a knee of 8 is not overrun against a cold floor', () => {
    // A run's first windows are slow for the client's own reasons (code not compiled yet, new
    // connections): at a knee of 8 they took 100–140, then 50–63 ms against the API's 42. The
    // floor they made let 9 in flight look clean, and slow start went on to 13.5: five requests
    // queued for a few round trips, the p99 of a 7-second run (1.57 × the fixed knee's).
    const { lim, round } = rounds();
    const knee = 8;
    const cold = [120, 58, 50];
    const limits: number[] = [];
    for (let r = 0; r < 12; r++) {
      const unloaded = cold[r] ?? 42;
      round((i, limit) => (limit > knee && i >= knee ? unloaded + 40 : unloaded + (i % 3) * 0.2));
      limits.push(lim.limit);
    }
    expect(Math.max(...limits), limits.join(' ')).toBeLessThanOrEqual(knee + 2);
    expect(lim.limit).toBeGreaterThanOrEqual(knee - 1);
  });

  it('slow start goes on past one window of a few late answers whose mean is only a little up (our own start-up)', () => {
    // In the first second of a real run the client itself is slow (code not yet compiled, new
    // lanes): at ~70 in flight against a knee of 128, a window's mean rose 13–18 % with a few
    // answers 1.4 × the floor and nothing queued at the API. Slow start ended there (a ceiling
    // held for most of a second) on 2 runs of 3; such a window now waits for the next, as past
    // slow start.
    const { lim, round } = rounds();
    while (lim.limit < 60) round(steady);
    const before = lim.limit;
    // Mean 1.13 × the floor (not the 1.2 of a queue by the mean), 5 answers late.
    round((i) => (i < 5 ? 60 : 44));
    const lows: number[] = [];
    for (let r = 0; r < 3; r++) {
      round(steady);
      lows.push(lim.limit);
    }
    expect(Math.min(...lows)).toBeGreaterThanOrEqual(before);
    // Slow start's × 1.5 a window, not a ceiling's hold: the old limiter cut to 63 and held it.
    expect(lim.limit).toBeGreaterThanOrEqual(before * 2);
  });

  it('slow start takes one round trip a step, × 2 from 16: a knee of 128 is reached within 8½ round trips', () => {
    // 4 → 153 is 9 steps of × 1.5. When a window left out the attempts of the burst that ended the
    // window before (begun a moment before the step, under the old limit), each step waited a
    // second round trip for them to come round: 100 was passed at ~616 ms here, ~7 % of a 7 s run.
    for (const seed of [1, 2, 3]) {
      const r = simulateBench({ knee: 128, serviceMs: 40, concurrency: 'auto', seconds: 2, seed, debug: true });
      const reached = r.limitTrace?.find(([, limit]) => limit >= 100)?.[0];
      expect(reached, `seed ${seed}`).toBeDefined();
      // × 1.5 all the way (4 → 153 in nine steps) reached 100 at 370 ms here; × 2 from 16 at 329.
      expect(reached as number, `seed ${seed}`).toBeLessThanOrEqual(8.5 * 41);
    }
  });

  it('a client that stalls now and then (5 ms every ~50 ms) keeps p99 within 1.5 × the fixed knee', () => {
    for (const knee of [8, 32, 128]) {
      const stalls = { stallEveryMs: 50, stallMs: 5 };
      const auto = run(knee, 'auto', stalls);
      expect(auto.p99 / run(knee, knee, stalls).p99, `knee ${knee}`).toBeLessThanOrEqual(1.5);
      expect(auto.perSec / run(knee, knee * 2, stalls).perSec, `knee ${knee}`).toBeGreaterThanOrEqual(0.85);
    }
  });
});
