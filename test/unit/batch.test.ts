import { describe, expect, it } from 'vitest';
import { LazyBatch, idempotencyKeyFor, splitJsonArray } from '../../src/source/batch.js';

describe('splitJsonArray', () => {
  it('splits without parsing, keeping big numbers and tricky strings exact', () => {
    const rows = [
      '{"id":9007199254740993,"n":123456789012345678901234567890.123}',
      '{"s":"a,b]}{\\"x\\"\\\\"}',
      '{"a":[1,[2,{"b":3}]],"c":{}}',
      '"str"',
      '42',
      'null',
    ];
    expect(splitJsonArray(`[${rows.join(',')}]`)).toEqual(rows);
    expect(splitJsonArray('[ ]')).toEqual([]);
    expect(splitJsonArray('[ {"a":1} , {"b":2} ]')).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('gives rows and text of a batch read as bytes', () => {
    const bytes = Buffer.from('[{"id":1,"t":"é"},{"id":2}]');
    const b = new LazyBatch(0, 2, ['1'], ['2'], 'k', { bytes });
    expect(b.payload).toBe(bytes);
    expect(b.rows).toEqual(['{"id":1,"t":"é"}', '{"id":2}']);
    expect(b.json).toBe('[{"id":1,"t":"é"},{"id":2}]');
  });

  it('round-trips through a LazyBatch either way', () => {
    const rows = ['{"id":1}', '{"id":2,"t":"x,y"}'];
    const fromRows = new LazyBatch(0, 2, ['1'], ['2'], 'k', { rows });
    const fromJson = new LazyBatch(0, 2, ['1'], ['2'], 'k', { json: fromRows.json });
    expect(fromJson.rows).toEqual(rows);
    expect(JSON.parse(fromRows.json)).toEqual([{ id: 1 }, { id: 2, t: 'x,y' }]);
  });
});

describe('idempotency keys', () => {
  it('depend on the job and the key range only', () => {
    const a = idempotencyKeyFor('job1', ['1'], ['100']);
    expect(idempotencyKeyFor('job1', ['1'], ['100'])).toBe(a);
    expect(idempotencyKeyFor('job2', ['1'], ['100'])).not.toBe(a);
    expect(idempotencyKeyFor('job1', ['1'], ['101'])).not.toBe(a);
    // ["1,2"] and ["1","2"] are different key tuples and must not collide.
    expect(idempotencyKeyFor('j', ['1,2'], ['3'])).not.toBe(idempotencyKeyFor('j', ['1', '2'], ['3']));
    expect(a).toMatch(/^[\w-]{32}$/);
  });

  it('are the keys earlier versions sent, so a run resumed after an upgrade sends the same ones', () => {
    // SHA-256 of "job\0JSON(first)\0JSON(last)", base64url, first 32 characters (pinned).
    expect(idempotencyKeyFor('job1', ['1'], ['100'])).toBe('6thrnzknczVEzUYa8pTgy2B5gimfHVzM');
    expect(idempotencyKeyFor('jé', ['2024-01-01 00:00:00.123456+00', 'a"b'], ['9007199254740993', 'x'])).toBe(
      'sV_Z1O3kbHVRd9_g_YzhQBkdnL_5_0tN',
    );
  });
});
