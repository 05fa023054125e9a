import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { deliverWindowed } from '../../src/sink/window.js';

/** A source of n numbers that records how far it has been pulled. */
function countingSource(n: number) {
  const state = { pulled: 0 };
  async function* gen() {
    for (let i = 0; i < n; i++) {
      state.pulled = i + 1;
      yield i;
    }
  }
  return { state, items: gen() };
}

const never = new AbortController().signal;

describe('deliverWindowed', () => {
  it('keeps at most `concurrency` in flight and pulls only when there is room (backpressure)', async () => {
    const src = countingSource(50);
    let inFlight = 0;
    let maxInFlight = 0;
    let maxAhead = 0;
    let done = 0;
    const work = async (i: number) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // The source is pulled at most one item beyond the work already started (p-limit starts work a tick later).
      maxAhead = Math.max(maxAhead, src.state.pulled - (done + inFlight));
      await sleep(1 + (i % 3));
      inFlight--;
      done++;
      return i;
    };
    const out: number[] = [];
    for await (const r of deliverWindowed(src.items, pLimit(4), work, { signal: never, hardSignal: never }))
      out.push(r);
    expect(out.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(maxInFlight).toBe(4);
    expect(maxAhead).toBeLessThanOrEqual(1);
  });

  it('a closed gate holds pulls while work is in flight, and never stalls when nothing is', async () => {
    const src = countingSource(20);
    let open = false;
    const started: number[] = [];
    const work = async (i: number) => {
      started.push(i);
      await sleep(5);
      return i;
    };
    const seen: number[] = [];
    for await (const r of deliverWindowed(src.items, pLimit(8), work, {
      signal: never,
      hardSignal: never,
      mayPull: () => open,
    })) {
      seen.push(r);
      if (seen.length === 3) open = true;
    }
    // Closed: one at a time (a pull is always allowed with nothing in flight); open: up to 8.
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a soft stop stops pulling and yields what was in flight; work failing on a hard stop is dropped', async () => {
    const src = countingSource(100);
    const soft = new AbortController();
    const out: number[] = [];
    for await (const r of deliverWindowed(
      src.items,
      pLimit(4),
      async (i) => {
        await sleep(5);
        return i;
      },
      {
        signal: soft.signal,
        hardSignal: never,
      },
    )) {
      out.push(r);
      if (out.length === 6) soft.abort();
    }
    expect(src.state.pulled).toBeLessThan(16);
    expect(out.length).toBe(src.state.pulled); // everything pulled was finished and yielded

    const src2 = countingSource(100);
    const hard = new AbortController();
    const got: number[] = [];
    const work = (i: number) =>
      new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => resolve(i), 20);
        const abort = () => {
          clearTimeout(t);
          reject(new Error('aborted'));
        };
        hard.signal.addEventListener('abort', abort, { once: true });
      });
    setTimeout(() => hard.abort(), 30);
    for await (const r of deliverWindowed(src2.items, pLimit(4), work, {
      signal: hard.signal,
      hardSignal: hard.signal,
    }))
      got.push(r);
    expect(got.length).toBeLessThan(src2.state.pulled);
  });

  it('a failure (of work or of the source) ends the window after what is in flight; a break closes the source', async () => {
    let closed = 0;
    const source = (n: number, breakAt?: number) =>
      (async function* () {
        try {
          for (let i = 0; i < n; i++) {
            if (i === breakAt) throw new Error('source broke');
            yield i;
          }
        } finally {
          closed++;
        }
      })();
    const settled: number[] = [];
    const work = async (i: number) => {
      await sleep(2 + (i % 3));
      if (i === 5) throw new Error('work failed');
      settled.push(i);
      return i;
    };
    const got: number[] = [];
    const failing = deliverWindowed(source(100), { concurrency: 4 }, work, { signal: never, hardSignal: never });
    await expect(
      (async () => {
        for await (const r of failing) got.push(r);
      })(),
    ).rejects.toThrow('work failed');
    // Everything started was settled and handed over before the error, and the source was closed.
    expect(got.sort((a, b) => a - b)).toEqual(settled.sort((a, b) => a - b));
    expect(closed).toBe(1);

    const broken = deliverWindowed(source(100, 7), { concurrency: 4 }, async (i: number) => i, {
      signal: never,
      hardSignal: never,
    });
    const fromBroken: number[] = [];
    await expect(
      (async () => {
        for await (const r of broken) fromBroken.push(r);
      })(),
    ).rejects.toThrow('source broke');
    expect(fromBroken.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);

    const early = deliverWindowed(source(100), { concurrency: 4 }, async (i: number) => i, {
      signal: never,
      hardSignal: never,
    });
    for await (const r of early) if (r >= 2) break;
    expect(closed).toBe(3);
  });

  it('follows a limit changed while running, at the next pull', async () => {
    const limit = { concurrency: 2 };
    let inFlight = 0;
    const peaks: number[] = [];
    const work = async (i: number) => {
      inFlight++;
      peaks[i] = inFlight;
      await sleep(2);
      inFlight--;
      return i;
    };
    let n = 0;
    for await (const _ of deliverWindowed(countingSource(40).items, limit, work, {
      signal: never,
      hardSignal: never,
    })) {
      if (++n === 10) limit.concurrency = 6;
    }
    expect(Math.max(...peaks.slice(0, 10))).toBe(2);
    expect(Math.max(...peaks.slice(20))).toBe(6);
  });
});
