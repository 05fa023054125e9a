import { describe, expect, it } from 'vitest';
import { kneeOf, type StepFigures, stickinessOf, sweepStop } from '../../src/probe/knee.js';

/** A made-up sweep: rows/s per concurrency, with an error rate where given. */
const sweep = (points: [number, number, number?][]): StepFigures[] =>
  points.map(([concurrency, rowsPerSec, errorRate = 0]) => ({ concurrency, rowsPerSec, errorRate }));

describe('the knee: the smallest concurrency with ≥ 95 % of the best rows/s', () => {
  it('is where the curve flattens, not where it peaks', () => {
    const s = sweep([
      [1, 1000],
      [2, 2000],
      [4, 3900],
      [8, 7600],
      [16, 7900],
      [32, 8000],
    ]);
    expect(kneeOf(s)).toEqual({ concurrency: 8, rowsPerSec: 8000 });
  });

  it('just under 95 % of the best does not count; exactly 95 % does', () => {
    expect(
      kneeOf(
        sweep([
          [1, 100],
          [2, 189.9],
          [4, 200],
        ]),
      )?.concurrency,
    ).toBe(4);
    expect(
      kneeOf(
        sweep([
          [1, 100],
          [2, 190],
          [4, 200],
        ]),
      )?.concurrency,
    ).toBe(2);
  });

  it('takes the steps in any order, and a peak before an overloaded step', () => {
    expect(
      kneeOf(
        sweep([
          [32, 3000, 0.4],
          [4, 5000],
          [1, 1500],
          [16, 7000],
          [8, 6900],
          [2, 2900],
        ]),
      )?.concurrency,
    ).toBe(8);
  });

  it('leaves out steps over 5 % overload answers, unless every step is', () => {
    const s = sweep([
      [1, 1000],
      [2, 1900],
      [4, 2000],
      [8, 2600, 0.4],
    ]);
    expect(kneeOf(s)).toEqual({ concurrency: 2, rowsPerSec: 2000 });
    expect(
      kneeOf(
        sweep([
          [1, 960, 0.2],
          [2, 1000, 0.3],
        ]),
      ),
    ).toEqual({ concurrency: 1, rowsPerSec: 1000 });
  });

  it('is undefined when nothing was delivered', () => {
    expect(
      kneeOf(
        sweep([
          [1, 0],
          [2, 0],
        ]),
      ),
    ).toBeUndefined();
    expect(kneeOf([])).toBeUndefined();
  });
});

describe('when a sweep stops', () => {
  it('goes on while rows/s rises by more than 5 %', () => {
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200],
          [4, 380],
        ]),
        64,
      ),
    ).toBeUndefined();
  });

  it('stops after two steps in a row without a rise', () => {
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200],
          [4, 205],
        ]),
        64,
      ),
    ).toBeUndefined();
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200],
          [4, 205],
          [8, 190],
        ]),
        64,
      ),
    ).toBe('flat');
    // A rise in between starts the count again.
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 104],
          [4, 300],
          [8, 310],
        ]),
        64,
      ),
    ).toBeUndefined();
  });

  it('stops at once when a step has over 5 % overload answers', () => {
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200, 0.05],
        ]),
        64,
      ),
    ).toBeUndefined();
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200, 0.051],
        ]),
        64,
      ),
    ).toBe('errors');
  });

  it('stops at the top concurrency', () => {
    expect(
      sweepStop(
        sweep([
          [1, 100],
          [2, 200],
          [4, 400],
        ]),
        4,
      ),
    ).toBe('max concurrency');
  });
});

describe('whether stickiness matters', () => {
  it('matters when one mode beats the other by 15 % or more', () => {
    const v = stickinessOf(
      new Map([
        ['lane', 8000],
        ['off', 4000],
      ]),
    );
    expect(v).toEqual({ matters: true, better: 'lane', worse: 'off', ratio: 2 });
    expect(
      stickinessOf(
        new Map([
          ['lane', 1150],
          ['off', 1000],
        ]),
      )?.matters,
    ).toBe(true);
  });

  it('does not within 15 %, whichever mode is ahead', () => {
    const v = stickinessOf(
      new Map([
        ['lane', 1000],
        ['off', 1100],
      ]),
    );
    expect(v).toMatchObject({ matters: false, better: 'off', worse: 'lane' });
  });

  it('matters when one mode delivered nothing; is unknown with one mode', () => {
    expect(
      stickinessOf(
        new Map([
          ['lane', 500],
          ['off', 0],
        ]),
      ),
    ).toMatchObject({ matters: true, ratio: Infinity });
    expect(stickinessOf(new Map([['lane', 500]]))).toBeUndefined();
  });
});
