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
    expect(ok).toMatchObject({ changedColumn: 'updated_at', catchUp: false, catchUpOverlapMs: 30_000 });
    expect(importConfig(base).catchUpOverlapMs).toBe(60_000);
  });
});
