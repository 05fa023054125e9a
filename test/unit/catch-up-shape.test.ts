import { describe, expect, it } from 'vitest';
import { checkpointProblem } from '../../src/checkpoint/checkpoint-shape.js';
import { importConfig } from '../../src/config/import-config.js';

const horizon = {
  column: 'updated_at',
  at: '2026-12-01T10:01:11.204Z',
  since: '2026-12-01T10:02:11.204Z',
  overlapMs: 60_000,
  sawAllSessions: true,
};
const rows = { read: 3, delivered: 3, failed: 0, skipped: 0 };
const copy = {
  version: 1,
  jobId: '0123456789abcdef',
  job: { source: 'postgres://x', table: 't', key: ['id'], target: 'POST http://a', batchSize: 10 },
  watermark: ['3'],
  rows,
  complete: true,
  runs: 1,
  startedAt: '2026-12-01T10:02:11.204Z',
  updatedAt: '2026-12-01T10:03:11.204Z',
};
const catchUp = {
  n: 1,
  from: horizon.at,
  overlapUntil: horizon.since,
  horizon: { ...horizon, at: '2026-12-01T11:00:00.000Z', since: '2026-12-01T11:01:00.000Z' },
  watermark: ['2026-12-01 10:30:00+00', '3'],
  rows,
  overlapRows: 1,
  complete: true,
  runs: 1,
  startedAt: '2026-12-01T11:01:00.000Z',
  updatedAt: '2026-12-01T11:01:01.000Z',
};

describe('checkpoints with a horizon and catch-ups', () => {
  it('reads a checkpoint from before catch-ups existed, and one with a horizon and catch-ups', () => {
    expect(checkpointProblem(copy)).toBeUndefined();
    expect(checkpointProblem({ ...copy, changed: horizon, catchUps: [catchUp] })).toBeUndefined();
  });

  it('refuses damaged horizons and catch-ups, saying what is wrong', () => {
    expect(checkpointProblem({ ...copy, changed: { ...horizon, at: 'yesterday' } })).toMatch(/"changed" has no valid/);
    expect(checkpointProblem({ ...copy, catchUps: [catchUp] })).toMatch(/"catchUps" without "changed"/);
    const withUp = (c: object) => checkpointProblem({ ...copy, changed: horizon, catchUps: [c] });
    expect(withUp({ ...catchUp, watermark: ['3'] })).toMatch(/"catchUps\[0\]" "watermark" has 1 values for a key of 2/);
    expect(withUp({ ...catchUp, n: 2 })).toMatch(/"n" must be 1/);
    expect(withUp({ ...catchUp, rows: { ...rows, read: 4 } })).toMatch(/differs from read/);
    const twoUps = {
      ...copy,
      changed: horizon,
      catchUps: [
        { ...catchUp, complete: false },
        { ...catchUp, n: 2 },
      ],
    };
    expect(checkpointProblem(twoUps)).toMatch(/unfinished but a later catch-up exists/);
  });
});

describe('--catch-up options', () => {
  const base = { from: 'postgres://h/db', table: 't', to: 'http://127.0.0.1:1/x' };
  it('needs a checkpoint, and refuses flags that contradict it', () => {
    expect(() => importConfig({ ...base, catchUp: true })).toThrow(/catchUp needs checkpoint/);
    expect(() => importConfig({ ...base, catchUp: true, checkpoint: 'c.json', resume: true })).toThrow(
      /resume does not go with catchUp/,
    );
    expect(() => importConfig({ ...base, catchUpOverlap: '1m' })).toThrow(/needs changedColumn or catchUp/);
    expect(() => importConfig({ from: 'rows.ndjson', to: base.to, changedColumn: 'u' })).toThrow(/PostgreSQL/);
    const ok = importConfig({ ...base, changedColumn: 'updated_at', catchUpOverlap: '30s' });
    expect(ok).toMatchObject({ changedColumn: 'updated_at', catchUp: false, catchUpOverlap: { ms: 30_000 } });
    expect(ok.catchUpOverlap.versions).toBeUndefined();
    expect(importConfig(base)).toMatchObject({ catchUpOverlap: { ms: 60_000, versions: 1000 }, catchUpWaitMs: 60_000 });
  });

  it('reads --catch-up-overlap both ways until the column says which applies; refuses what is neither', () => {
    const col = { ...base, changedColumn: 'version' };
    // A bare whole number: versions for a bigint column, seconds for a timestamp (a duration's rule).
    expect(importConfig({ ...col, catchUpOverlap: '500' }).catchUpOverlap).toEqual({
      given: '500',
      ms: 500_000,
      versions: 500,
    });
    // 0 versions is a count, not a duration.
    expect(importConfig({ ...col, catchUpOverlap: '0' }).catchUpOverlap).toEqual({ given: '0', versions: 0 });
    expect(() => importConfig({ ...col, catchUpOverlap: 'lots' })).toThrow(
      /catchUpOverlap must be a duration like 1m \(a timestamp column\) or a whole number of versions/,
    );
    expect(importConfig({ ...col, catchUpWait: '5s' }).catchUpWaitMs).toBe(5000);
    expect(() => importConfig({ ...base, catchUpWait: '5s' })).toThrow(/catchUpWait needs changedColumn or catchUp/);
  });
});

const versionHorizon = {
  column: 'version',
  type: 'version',
  at: '1200',
  since: '1201',
  seen: '1201',
  overlapVersions: 1,
  takenAt: '2026-12-01T10:02:11.204Z',
  waitedFor: 0,
  stillOpen: 0,
};

describe('checkpoints with a version horizon', () => {
  const up = {
    ...catchUp,
    from: '1200',
    overlapUntil: '1201',
    horizon: { ...versionHorizon, at: '1499', since: '1500', seen: '1500', waitedFor: 2 },
    watermark: ['1300', '3'],
  };
  it('reads a version horizon and its catch-ups', () => {
    expect(checkpointProblem({ ...copy, changed: versionHorizon })).toBeUndefined();
    expect(checkpointProblem({ ...copy, changed: versionHorizon, catchUps: [up] })).toBeUndefined();
    // Held back: since below seen.
    const held = { ...up, horizon: { ...up.horizon, since: '1201', at: '1200', stillOpen: 1 } };
    expect(checkpointProblem({ ...copy, changed: versionHorizon, catchUps: [held] })).toBeUndefined();
  });

  it('refuses a damaged one, or one of the other kind than the copy\u2019s', () => {
    const bad = (h: object) => checkpointProblem({ ...copy, changed: { ...versionHorizon, ...h } });
    expect(bad({ at: '12.5' })).toMatch(/"changed" has no valid horizon version/);
    expect(bad({ at: '99999999999999999999' })).toMatch(/no valid horizon version/);
    expect(bad({ at: '1300' })).toMatch(/at ≤ since ≤ seen/);
    expect(bad({ takenAt: 'now' })).toMatch(/"takenAt" is not a time/);
    expect(bad({ type: 'sequence' })).toMatch(/unknown type "sequence"/);
    expect(checkpointProblem({ ...copy, changed: versionHorizon, catchUps: [catchUp] })).toMatch(
      /"catchUps\[0\]" "from" or "overlapUntil" is not a version/,
    );
    expect(
      checkpointProblem({ ...copy, changed: horizon, catchUps: [{ ...catchUp, horizon: versionHorizon }] }),
    ).toMatch(/not of the same kind/);
  });
});
