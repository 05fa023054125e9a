import { describe, expect, it } from 'vitest';
import { fromPoint, horizonPoint, humanDuration, lagOf, shortAfter } from '../../src/cli/horizon-text.js';
import type { Horizon } from '../../src/source/changed-column.js';

describe('how the summary and status write horizons', () => {
  it('a second time of the same UTC day as the first is written as its time of day only', () => {
    expect(shortAfter('2026-12-01T10:02:11.204Z', '2026-12-01T11:47:03.880Z')).toBe('11:47:03.880Z');
    expect(shortAfter('2026-12-01T23:59:59.000Z', '2026-12-02T00:00:01.000Z')).toBe('2026-12-02T00:00:01.000Z');
    // Versions are never shortened.
    expect(shortAfter('version 1200', 'version 1500')).toBe('version 1500');
  });

  it('a lag reads as a duration: two units at most, never negative', () => {
    expect(humanDuration(0)).toBe('0s');
    expect(humanDuration(-5000)).toBe('0s');
    expect(humanDuration(45_400)).toBe('45s');
    expect(humanDuration(72_000)).toBe('1m 12s');
    expect(humanDuration(2 * 3600_000 + 5 * 60_000 + 30_000)).toBe('2h 5m');
    expect(humanDuration(3 * 86_400_000 + 4 * 3600_000)).toBe('3d 4h');
  });

  it('a time horizon lags from its time; a version one from when it was taken', () => {
    const time: Horizon = {
      column: 'updated_at',
      at: '2026-12-01T10:00:00.000Z',
      since: '2026-12-01T10:01:00.000Z',
      overlapMs: 60_000,
      sawAllSessions: true,
    };
    const version: Horizon = {
      column: 'version',
      type: 'version',
      at: '200',
      since: '1200',
      seen: '1200',
      overlapVersions: 1000,
      takenAt: '2026-12-01T10:00:30.000Z',
      waitedFor: 0,
      stillOpen: 0,
    };
    const now = Date.parse('2026-12-01T10:01:12.000Z');
    expect(lagOf(time, now)).toBe('1m 12s');
    expect(lagOf(version, now)).toBe('42s');
    expect(horizonPoint(time)).toBe('2026-12-01T10:00:00.000Z');
    expect(horizonPoint(version)).toBe('version 200');
    expect(fromPoint('200', version)).toBe('version 200');
    expect(fromPoint(time.at, time)).toBe(time.at);
  });
});
