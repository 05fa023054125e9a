import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/checkpoint/checkpoint-file.js';
import { importConfig } from '../../src/index.js';
import { describePlanStatus, type ShardStatus } from '../../src/shard/plan-status.js';
import { whereWithRange } from '../../src/shard/range-condition.js';
import { parseShardSpec, planProblem, rangeOf, shardLabel, type ShardPlan } from '../../src/shard/shard-plan.js';

const plan: ShardPlan = {
  version: 1,
  kind: 'bulk-import shard plan',
  source: 'postgres://app@db/prod',
  table: 'listings',
  key: ['grp', 'name'],
  shards: 3,
  boundaries: [
    ['1', "o'brien"],
    ['2', 'z'],
  ],
  rows: 300,
  createdAt: '2026-01-01T00:00:00Z',
};

function checkpoint(label: string, read: number, complete: boolean): Checkpoint {
  return {
    version: 1,
    jobId: '0123456789abcdef',
    job: {
      source: plan.source,
      table: 'listings',
      key: plan.key,
      target: 'POST http://api/',
      batchSize: 10,
      shard: label,
    },
    watermark: null,
    rows: { read, delivered: read - 1, failed: 1, skipped: 0 },
    complete,
    runs: 1,
    startedAt: plan.createdAt,
    updatedAt: plan.createdAt,
  };
}

describe('shard plans', () => {
  it('gives shard k the keys above boundary k−1 and up to boundary k, open at both ends', () => {
    expect(rangeOf(plan, 1)).toEqual({ upTo: ['1', "o'brien"] });
    expect(rangeOf(plan, 2)).toEqual({ after: ['1', "o'brien"], upTo: ['2', 'z'] });
    expect(rangeOf(plan, 3)).toEqual({ after: ['2', 'z'] });
  });

  it('compares the full key as a row value, quoting the values, and keeps --where on lines of its own', () => {
    const sql = whereWithRange(plan.key, rangeOf(plan, 2), 'active -- a comment');
    expect(sql).toBe(
      `("grp", "name") > ('1', 'o''brien')\nAND ("grp", "name") <= ('2', 'z')\nAND (\nactive -- a comment\n)`,
    );
    expect(whereWithRange(['id'], {}, undefined)).toBeUndefined();
  });

  it('refuses k > n, 0 and text that is not k/n', () => {
    expect(parseShardSpec('--shard', ' 3/8 ')).toEqual({ index: 3, count: 8 });
    for (const bad of ['5/4', '0/4', '1', '1/0', 'a/b', '-1/4'])
      expect(() => parseShardSpec('--shard', bad)).toThrow(/k\/n/);
  });

  it('checks the whole shape of a plan file', () => {
    expect(planProblem(plan)).toBeUndefined();
    expect(planProblem({ ...plan, boundaries: [['1', 'a']] })).toMatch(/must hold 2 keys/);
    expect(planProblem({ ...plan, boundaries: [['1'], ['2', 'z']] })).toMatch(/boundaries\[0\]/);
    expect(planProblem({ ...plan, query: 'SELECT 1' })).toMatch(/exactly one of/);
    expect(planProblem({ ...plan, version: 2 })).toMatch(/unknown version/);
    expect(planProblem({ version: 1, jobId: 'x' })).toBe('not a plan file');
  });

  it('status: one row per shard and the sum; a checkpoint of another plan is not counted', () => {
    const shards: ShardStatus[] = [
      { index: 1, checkpointPath: 'p.shard-1-of-3.ckpt.json', checkpoint: checkpoint(shardLabel(plan, 1), 100, true) },
      {
        index: 2,
        checkpointPath: 'p.shard-2-of-3.ckpt.json',
        checkpoint: checkpoint('2/3 of plan 000000000000', 70, false),
      },
      { index: 3, checkpointPath: 'p.shard-3-of-3.ckpt.json' },
    ];
    const text = describePlanStatus(plan, 'p.json', shards);
    expect(text).toMatch(/^1\/3\s+complete\s+100\s+99\s+1\s+0\s+start … \(1, o'brien\)$/m);
    expect(text).toMatch(/^2\/3\s+checkpoint of another plan\s+\(1, o'brien\) … \(2, z\)$/m);
    expect(text).toMatch(/^3\/3\s+not started\s+\(2, z\) … end$/m);
    expect(text).toMatch(/^all\s+1\/3 complete\s+100\s+99\s+1\s+0$/m);
  });
});

describe('--shard and --plan options', () => {
  const base = {
    from: 'postgres://app@db/prod',
    table: 'listings',
    to: 'http://api/',
    shard: '2/4',
    plan: 'cut/plan.json',
  };

  it('put the checkpoint beside the plan, named for the shard, unless --checkpoint says otherwise', () => {
    expect(importConfig(base, {})).toMatchObject({
      shard: { index: 2, count: 4, plan: 'cut/plan.json' },
      checkpoint: 'cut/plan.shard-2-of-4.ckpt.json',
    });
    expect(importConfig({ ...base, checkpoint: 'mine.json' }, {}).checkpoint).toBe('mine.json');
    expect(importConfig({ ...base, checkpoint: false }, {}).checkpoint).toBeNull();
  });

  it('go together, and need a PostgreSQL source', () => {
    expect(() => importConfig({ ...base, plan: undefined }, {})).toThrow('shard and plan go together');
    expect(() => importConfig({ ...base, from: 'rows.ndjson', table: undefined }, {})).toThrow(
      'shard needs a PostgreSQL source',
    );
    expect(() => importConfig({ ...base, plan: ' ' }, {})).toThrow(/plan needs a file path/);
  });
});
