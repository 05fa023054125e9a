import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { IMPORT_DEFAULTS } from '../../src/config/defaults.js';
import { BulkImportError, importConfig } from '../../src/index.js';

const base = { from: 'rows.ndjson', to: 'http://127.0.0.1:1/x' };

function usageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof BulkImportError && err.code === 'USAGE') return err.message;
    throw err;
  }
  throw new Error('expected a usage error');
}

describe('--restick-after and --target-header at the edge', () => {
  it('defaults to a few minutes; takes durations; 0 and off turn it off', () => {
    expect(IMPORT_DEFAULTS.restickAfter).toBe('5m');
    expect(parseRunConfig(base, {}).target?.restickAfterMs).toBe(300_000);
    expect(parseRunConfig({ ...base, restickAfter: '90s' }, {}).target?.restickAfterMs).toBe(90_000);
    expect(parseRunConfig({ ...base, restickAfter: '1500ms' }, {}).target?.restickAfterMs).toBe(1500);
    for (const off of ['0', 'off', 'OFF', ' 0 ']) {
      expect(parseRunConfig({ ...base, restickAfter: off }, {}).target?.restickAfterMs).toBe(0);
    }
    expect(importConfig({ ...base, restickAfter: 0 }, {}).target?.restickAfterMs).toBe(0);
    expect(importConfig({ ...base, restickAfter: 2000 }, {}).target?.restickAfterMs).toBe(2000);
  });

  it('a bad value is one line naming the flag and what was given', () => {
    expect(usageOf(() => parseRunConfig({ ...base, restickAfter: 'soon' }, {}))).toBe(
      '--restick-after must be a duration like 5m or 30s, or off (got "soon")',
    );
    expect(usageOf(() => parseRunConfig({ ...base, restickAfter: '-1s' }, {}))).toMatch(/^--restick-after must be/);
    expect(usageOf(() => parseRunConfig({ ...base, restickAfter: '5h' }, {}))).toMatch(/^--restick-after must be/);
    expect(usageOf(() => importConfig({ ...base, restickAfter: 'never' }, {}))).toMatch(/^restickAfter must be/);
    expect(usageOf(() => parseRunConfig({ ...base, targetHeader: 'x backend' }, {}))).toBe(
      '--target-header: "x backend" is not a valid header name',
    );
  });

  it('queue mode refuses it: the forwarder sends over HTTP, not run', () => {
    const queue = { from: 'rows.ndjson', queue: 'http://127.0.0.1:4566/000000000000/q' };
    expect(usageOf(() => parseRunConfig({ ...queue, restickAfter: '1m' }, {}))).toMatch(
      /^--restick-after applies to HTTP sends, not to --queue/,
    );
  });
});
