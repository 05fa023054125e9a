import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { duration, headerLines, maxFailures, wholeNumber } from '../../src/config/rules.js';

describe('flag values', () => {
  it('names the flag and what was given', () => {
    expect(() => wholeNumber('--concurrency', 'abc', 1)).toThrowError(
      '--concurrency must be a whole number ≥ 1 (got "abc")',
    );
    expect(() => wholeNumber('--batch-size', '0', 1)).toThrowError(/--batch-size/);
    expect(duration('--timeout', '30s')).toBe(30_000);
    expect(duration('--timeout', '1500ms')).toBe(1500);
    expect(duration('--timeout', '2m')).toBe(120_000);
    expect(() => duration('--timeout', 'soon')).toThrowError(/--timeout/);
    expect(headerLines('--header', ['Authorization: Bearer a:b', 'X-A:1'])).toEqual({
      Authorization: 'Bearer a:b',
      'X-A': '1',
    });
    expect(() => headerLines('--header', ['no colon'])).toThrowError(/--header/);
    expect(maxFailures('--max-failures', '0.05')).toEqual({ ratio: 0.05 });
    expect(maxFailures('--max-failures', '100')).toEqual({ count: 100 });
  });

  it('builds a frozen run config with defaults', () => {
    const c = parseRunConfig({ from: 'postgres://h/db', table: 'listings', to: 'http://127.0.0.1:1/x' }, {});
    expect(Object.isFrozen(c)).toBe(true);
    expect(c.batchSize).toBe(100);
    expect(c.target?.sticky).toBe('lane');
    expect(c.source).toMatchObject({ kind: 'postgres', key: ['id'], table: 'listings' });
  });

  it('rejects contradictions in one line', () => {
    expect(() => parseRunConfig({ from: 'postgres://h/db', to: 'http://x' }, {})).toThrowError(
      /exactly one of --table and --query/,
    );
    expect(() => parseRunConfig({ from: 'postgres://h/db', table: 't', to: 'ftp://x' }, {})).toThrowError(
      /--to must be an http/,
    );
    expect(() => parseRunConfig({ from: 'rows.ndjson', table: 't', to: 'http://x' }, {})).toThrowError(
      /PostgreSQL source/,
    );
    expect(() => parseRunConfig({ table: 't', to: 'http://x' }, {})).toThrowError(/DATABASE_URL/);
    expect(parseRunConfig({ table: 't', to: 'http://x' }, { DATABASE_URL: 'postgres://h/db' }).source.kind).toBe(
      'postgres',
    );
  });
});
