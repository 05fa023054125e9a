import { AdaptiveLimit } from '../../src/http/adaptive-limit.js';

/**
 * A virtual-clock model of the adaptive bench, for tuning the limiter in seconds instead of the
 * bench's minutes: the capacity-model API (k workers × s ms, a FIFO queue of k, 503 beyond) and a
 * single-threaded client that spends `clientMs` of CPU per request, over a network of `netMs` each
 * way. The API's timers fire on whole-millisecond ticks, as Node's do, so requests started in the
 * same tick finish together: the bunching that makes a queue of one cost a whole service time.
 * It is a model, not the measurement of record (that is `npm run bench -- --adaptive`).
 *
 * `node dist/bench/adaptive/simulate.js [seconds] [seed offset] [σ] [stall every ms] [stall ms]`: fixed
 * k, fixed 2k and auto at knees 8, 32 and 128, medians of 3 seeds. σ > 0 gives the API a lognormal
 * service time (a latency that varies with nothing queued); stalls block the client's loop now and
 * then (a GC pause, a neighbour on the core). test/unit/adaptive-limit.test.ts runs it too.
 */
interface Event {
  at: number;
  kind: 'done' | 'refused' | 'answer' | 'arrive';
  id: number;
}

class Heap {
  readonly #a: Event[] = [];
  get size(): number {
    return this.#a.length;
  }
  push(e: Event): void {
    const a = this.#a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Event).at <= e.at) break;
      a[i] = a[p] as Event;
      i = p;
    }
    a[i] = e;
  }
  pop(): Event | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && (a[r] as Event).at < (a[l] as Event).at ? r : l;
        if ((a[c] as Event).at >= last.at) break;
        a[i] = a[c] as Event;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

export interface SimResult {
  readonly requests: number;
  readonly perSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly refusedShare: number;
  readonly limitMedian: number;
}

export function simulate(o: {
  knee: number;
  serviceMs: number;
  concurrency: number | 'auto';
  seconds: number;
  clientMs?: number;
  netMs?: number;
  seed?: number;
  max?: number;
  /** Service-time spread: 0 = every request takes serviceMs; σ of a lognormal of mean serviceMs. */
  sigma?: number;
  debug?: boolean;
  /** A client on a busy machine: on average every `stallEveryMs` its loop stalls for up to `stallMs`. */
  stallEveryMs?: number;
  stallMs?: number;
}): SimResult & { lateAt?: number[]; limitTrace?: [number, number][] } {
  let seed = o.seed ?? 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const clientMs = o.clientMs ?? 0.06;
  const netMs = o.netMs ?? 0.1;
  let now = 0;
  const lim = o.concurrency === 'auto' ? new AdaptiveLimit({ max: o.max ?? 256, now: () => now }) : undefined;
  const fixed = o.concurrency === 'auto' ? 0 : o.concurrency;
  const limit = () => (lim ? lim.limit : fixed);
  const heap = new Heap();
  const startedAt = new Map<number, number>();
  const arrivedAt = new Map<number, number>();
  const refused = new Set<number>();
  let working = 0;
  const waiting: number[] = [];
  let inFlight = 0;
  let clientFree = 0;
  let nextId = 0;
  const latencies: number[] = [];
  let refusedCount = 0;
  let first = Number.NaN;
  let last = 0;
  const end = o.seconds * 1000;
  // The client's stalls (a GC pause, a neighbour on the core), as times its loop is blocked until.
  let nextStall = o.stallEveryMs ? rnd() * o.stallEveryMs * 2 : Number.POSITIVE_INFINITY;
  const stalled = (t: number): number => {
    while (t >= nextStall) {
      const until = nextStall + rnd() * (o.stallMs ?? 0);
      nextStall = until + rnd() * (o.stallEveryMs ?? 0) * 2;
      if (t < until) return until;
    }
    return t;
  };
  const limits: number[] = [];
  const lateAt: number[] = [];
  const limitTrace: [number, number][] = [];

  const work = (id: number) => {
    working++;
    // Node's timers: due on the tick after start + s, fired with a little loop latency.
    const sigma = o.sigma ?? 0;
    let ms = o.serviceMs;
    if (sigma > 0) {
      // Box–Muller; the lognormal's mean is serviceMs.
      const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
      ms = o.serviceMs * Math.exp(sigma * z - (sigma * sigma) / 2);
    }
    heap.push({ at: Math.floor(now) + ms + 1 + rnd() * 0.3, kind: 'done', id });
  };
  const send = () => {
    while (inFlight < limit() && (lim?.waitMs() ?? 0) === 0 && now < end) {
      clientFree = Math.max(clientFree, now) + clientMs / 2;
      const id = nextId++;
      inFlight++;
      startedAt.set(id, lim ? lim.begin() : now);
      limits.push(limit());
      heap.push({ at: clientFree + netMs, kind: 'arrive', id });
    }
  };
  send();
  for (let guard = 0; heap.size > 0 && guard < 50_000_000; guard++) {
    const e = heap.pop() as Event;
    now = e.at;
    if (e.kind === 'arrive') {
      if (Number.isNaN(first)) first = now;
      arrivedAt.set(e.id, now);
      if (working < o.knee) work(e.id);
      else if (waiting.length < o.knee) waiting.push(e.id);
      else {
        refused.add(e.id);
        refusedCount++;
        heap.push({ at: now + 0.05, kind: 'refused', id: e.id });
      }
    } else if (e.kind === 'done' || e.kind === 'refused') {
      if (e.kind === 'done') {
        working--;
        latencies.push(now - (arrivedAt.get(e.id) as number));
        if (o.debug && now - (arrivedAt.get(e.id) as number) > o.serviceMs * 1.5) lateAt.push(now);
        last = now;
        const next = waiting.shift();
        if (next !== undefined) work(next);
      }
      arrivedAt.delete(e.id);
      // The answer reaches the client, which handles answers one at a time.
      clientFree = stalled(Math.max(clientFree, now + netMs)) + clientMs / 2;
      heap.push({ at: clientFree, kind: 'answer', id: e.id });
    } else {
      inFlight--;
      const start = startedAt.get(e.id) as number;
      startedAt.delete(e.id);
      const bad = refused.delete(e.id);
      lim?.end(start, bad ? 'overload' : 'ok');
      if (o.debug) limitTrace.push([now, limit()]);
      send();
      // A held Retry-After would need a timer; the bench's API sends none.
    }
  }
  latencies.sort((a, b) => a - b);
  limits.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] as number;
  return {
    requests: latencies.length,
    perSec: latencies.length / ((last - first) / 1000),
    p50: q(0.5),
    p99: q(0.99),
    refusedShare: refusedCount / (latencies.length + refusedCount),
    limitMedian: limits[limits.length >> 1] as number,
    ...(o.debug ? { lateAt, limitTrace } : {}),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 7);
  const sigma = Number(process.argv[4] ?? 0);
  const stallEveryMs = Number(process.argv[5] ?? 0);
  const stallMs = Number(process.argv[6] ?? 0);
  const seeds = [1, 2, 3].map((s) => s + Number(process.argv[3] ?? 0));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  for (const knee of [8, 32, 128]) {
    const clientMs = 0.06;
    const run = (c: number | 'auto') =>
      seeds.map((seed) =>
        simulate({ knee, serviceMs: 40, concurrency: c, seconds, clientMs, seed, sigma, stallEveryMs, stallMs }),
      );
    const atKnee = run(knee);
    const best = run(knee * 2);
    const auto = run('auto');
    const kneeP99 = med(atKnee.map((r) => r.p99));
    const bestRate = med(best.map((r) => r.perSec));
    const line = (name: string, rs: SimResult[]) =>
      `  ${name.padEnd(10)} ${med(rs.map((r) => r.perSec))
        .toFixed(0)
        .padStart(
          6,
        )}/s (${((med(rs.map((r) => r.perSec)) / bestRate) * 100).toFixed(1)} %) p50 ${med(rs.map((r) => r.p50)).toFixed(1)} p99 ${med(rs.map((r) => r.p99)).toFixed(1)} (${(med(rs.map((r) => r.p99)) / kneeP99).toFixed(2)} ×; ${rs.map((r) => (r.p99 / kneeP99).toFixed(2)).join(' ')}) 503 ${(med(rs.map((r) => r.refusedShare)) * 100).toFixed(2)} % limit ${med(rs.map((r) => r.limitMedian))}`;
    console.log(`knee ${knee}`);
    console.log(line('fixed k', atKnee));
    console.log(line('fixed 2k', best));
    console.log(line('auto', auto));
  }
}
