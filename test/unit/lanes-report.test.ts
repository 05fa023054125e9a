import { describe, expect, test } from 'vitest';
import type { PlacementReport } from '../../src/http/lane-placement.js';
import { LanesLog, mergePlacements } from '../../src/lambda/lanes-report.js';

const report = (over: Partial<PlacementReport> = {}): PlacementReport => ({
  by: 'cookie AWSALB',
  lanesPerTarget: {},
  replaced: { uneven: 0, restickAfter: 0 },
  landedOnSame: 0,
  restickAfterMs: 300_000,
  ...over,
});

describe('mergePlacements: forward adds its pollers up', () => {
  test('lanes add up per target; moves add up; most lanes first, ties by name', () => {
    const merged = mergePlacements([
      report({ lanesPerTarget: { '#bbb': 2, '#aaa': 1 }, replaced: { uneven: 1, restickAfter: 3 }, landedOnSame: 1 }),
      undefined, // a poller with --sticky off has no placement (not reachable today, but harmless)
      report({ by: 'none' }),
      report({ lanesPerTarget: { '#ccc': 1, '#aaa': 1 }, replaced: { uneven: 0, restickAfter: 2 } }),
    ]);
    expect(merged).toEqual({
      by: 'cookie AWSALB',
      lanesPerTarget: { '#aaa': 2, '#bbb': 2, '#ccc': 1 },
      replaced: { uneven: 1, restickAfter: 5 },
      landedOnSame: 1,
      restickAfterMs: 300_000,
    });
    expect(Object.keys(merged?.lanesPerTarget ?? {})).toEqual(['#aaa', '#bbb', '#ccc']);
  });

  test('no placement at all (--sticky off or shared): undefined; only unplaced pollers: by none', () => {
    expect(mergePlacements([undefined, undefined])).toBeUndefined();
    expect(mergePlacements([])).toBeUndefined();
    expect(mergePlacements([report({ by: 'none' })])?.by).toBe('none');
  });
});

describe('LanesLog: the Lambda says where its lanes stand at most once a minute', () => {
  const placed = report({ lanesPerTarget: { '#aaa': 2, '#bbb': 2 }, replaced: { uneven: 0, restickAfter: 1 } });

  test('nothing in the first minute, then one line, then none until a minute has passed', () => {
    const log = new LanesLog(60_000);
    const t0 = 1_000_000;
    const lines: string[] = [];
    // An invocation every 100 ms for 3 minutes.
    for (let t = t0, i = 1; t <= t0 + 180_000; t += 100, i++) {
      const line = log.after(placed, i, t);
      if (line) lines.push(line);
    }
    expect(lines).toHaveLength(3);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toEqual({
      level: 'info',
      time: new Date(t0 + 60_000).toISOString(),
      event: 'lanes',
      by: 'cookie AWSALB',
      lanesPerTarget: { '#aaa': 2, '#bbb': 2 },
      replaced: { uneven: 0, restickAfter: 1 },
      landedOnSame: 0,
      restickAfterMs: 300_000,
      invocations: 601,
    });
    const times = parsed.map((p) => Date.parse(p.time as string));
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(60_000);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(60_000);
  });

  test('a container whose lanes hold no balancer cookie, or with --sticky other than lane, says nothing', () => {
    const log = new LanesLog(1000);
    for (let t = 0; t < 10_000; t += 100) {
      expect(log.after(report({ by: 'none' }), 1, t)).toBeUndefined();
      expect(log.after(undefined, 1, t)).toBeUndefined();
    }
    // Once lanes are placed, the line comes at the next invocation (the minute has long passed).
    expect(log.after(placed, 2, 10_000)).toContain('"event":"lanes"');
  });
});
