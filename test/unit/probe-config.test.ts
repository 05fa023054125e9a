import { describe, expect, it } from 'vitest';
import { runCommandLine } from '../../src/cli/probe-command.js';
import { fingerprintOf } from '../../src/run-import.js';
import { jobIdOf } from '../../src/checkpoint/checkpoint-file.js';
import { importConfig } from '../../src/config/import-config.js';
import { doublingUpTo, isLoopbackUrl, probeConfig } from '../../src/config/probe-config.js';

const from = 'postgres://app:pw@db.internal:5432/app';

describe('probe config', () => {
  it('counts loopback hosts, and only them, as test endpoints', () => {
    for (const u of ['http://localhost:8080/x', 'http://127.0.0.1/x', 'https://127.8.9.10:1/x', 'http://[::1]:3000/x'])
      expect(isLoopbackUrl(u), u).toBe(true);
    for (const u of [
      'https://api.example.com/x',
      'http://localhost.example.com/x',
      'http://10.0.0.1/x',
      'http://[::2]/x',
    ])
      expect(isLoopbackUrl(u), u).toBe(false);
  });

  it('refuses to send to another host without yes, before anything connects; dry run or yes let it', () => {
    const o = { from, table: 'listings', to: 'https://api.example.com/listings' };
    expect(() => probeConfig(o)).toThrow(/probe sends real rows to https:\/\/api\.example\.com\/listings: add yes/);
    expect(probeConfig({ ...o, yes: true }).consent).toBe('yes');
    expect(probeConfig({ ...o, dryRun: true }).consent).toBeUndefined();
    expect(probeConfig({ ...o, to: 'http://127.0.0.1:9/l' }).consent).toBe('test endpoint');
  });

  it('sweeps 1, 2, 4… up to the max, included; takes no concurrency or limit of its own', () => {
    expect(doublingUpTo(64)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(doublingUpTo(24)).toEqual([1, 2, 4, 8, 16, 24]);
    expect(doublingUpTo(1)).toEqual([1]);
    const o = { from, table: 'listings', to: 'http://localhost/l' };
    expect(probeConfig({ ...o, maxConcurrency: 24 }).concurrencies).toEqual([1, 2, 4, 8, 16, 24]);
    expect(() => probeConfig({ ...o, concurrency: 8 })).toThrow(/probe tries concurrency 1, 2, 4… itself/);
    expect(() => probeConfig({ ...o, limit: 8 })).toThrow(/probe takes rows, not limit/);
    expect(() => probeConfig({ ...o, batchSizes: '1,10,10' })).toThrow(/names a size twice/);
    expect(() => probeConfig({ ...o, sticky: 'lane,sometimes' })).toThrow(/sticky must be lane, shared or off/);
    expect(probeConfig({ ...o, batchSizes: '1, 10,100' }).batchSizes).toEqual([1, 10, 100]);
    expect(probeConfig(o).stickyModes).toEqual(['lane', 'off']);
  });

  it("has the job id of the run it tunes: probe's idempotency keys are that run's", () => {
    const o = { from, table: 'listings', to: 'http://localhost/l', batchSize: 50, key: 'id', where: 'id > 3' };
    const probe = probeConfig(o).run;
    const run = importConfig({ ...o, concurrency: 32, sticky: 'off' });
    expect(jobIdOf(fingerprintOf(probe))).toBe(jobIdOf(fingerprintOf(run)));
    expect(probe.checkpoint).toBeNull();
    expect(probe.failed).toBeNull();
    expect(probe.target?.retry.retries).toBe(0);
  });
});

describe('the run command probe prints', () => {
  it("keeps the source and target, drops probe's flags, adds the setting found, masks secrets", () => {
    const argv = [
      'probe',
      '--from',
      'postgres://app:s3cret@db/app',
      '--table',
      'listings',
      '--to=https://api.example.com/l?api_key=abc123',
      '-H',
      'Authorization: Bearer tok-123456',
      '-H',
      'X-Team: data',
      '--rows',
      '5000',
      '--max-concurrency=32',
      '--batch-sizes',
      '1,10',
      '--sticky',
      'lane,off',
      '--step-time',
      '2s',
      '--max-time',
      '1m',
      '--yes',
    ];
    const line = runCommandLine(argv, { batchSize: 10, concurrency: 16, sticky: 'lane' });
    expect(line).toBe(
      "bulk-import run --from 'postgres://app:***@db/app' --table listings " +
        "'--to=https://api.example.com/l?api_key=***' -H 'Authorization: ***' -H 'X-Team: data' " +
        '--batch-size 10 --concurrency 16 --sticky lane',
    );
  });
});
