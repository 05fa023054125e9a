import { describe, expect, it } from 'vitest';
import { sendIsolating } from '../../src/sink/isolate-refused.js';

/** A receiver that refuses any piece holding one of the bad rows, and fails pieces holding a flaky one. */
function receiver(bad: Set<number>, flaky = new Set<number>()) {
  const seen: string[] = [];
  const send = async (piece: readonly number[], path: string) => {
    seen.push(path);
    if (piece.some((r) => flaky.has(r))) return { verdict: 'failed' as const, answer: 503 };
    return piece.some((r) => bad.has(r))
      ? { verdict: 'refused' as const, answer: 422 }
      : { verdict: 'ok' as const, answer: 200 };
  };
  return { send, seen };
}

describe('sendIsolating', () => {
  it('leaves each refused row alone and delivers every other row', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => i);
    const { send } = receiver(new Set([7, 8, 63]));
    const out = await sendIsolating(rows, send);
    const refused = out.pieces.filter((p) => p.verdict === 'refused').flatMap((p) => p.rows);
    const ok = out.pieces.filter((p) => p.verdict === 'ok').flatMap((p) => p.rows);
    expect(refused.sort((a, b) => a - b)).toEqual([7, 8, 63]);
    expect(out.pieces.every((p) => p.verdict !== 'refused' || p.rows.length === 1)).toBe(true);
    expect([...ok, ...refused].sort((a, b) => a - b)).toEqual(rows);
    // Bounded: about 2·log2(n) sends per bad row, far below one send per row.
    expect(out.sends).toBeLessThan(3 * 2 * 7 + 1);
  });

  it('does not split what failed for another reason, and names pieces the same way every time', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => i);
    const a = await sendIsolating(rows, receiver(new Set([1]), new Set([9])).send);
    const b = await sendIsolating(rows, receiver(new Set([1]), new Set([9])).send);
    expect(a.pieces.map((p) => p.path)).toEqual(b.pieces.map((p) => p.path));
    const failed = a.pieces.filter((p) => p.verdict === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.rows).toContain(9);
    expect(failed[0]?.rows.length).toBeGreaterThan(1);
  });

  it('sends a clean batch once', async () => {
    const out = await sendIsolating([1, 2, 3], receiver(new Set()).send);
    expect(out).toMatchObject({ sends: 1, pieces: [{ path: '', verdict: 'ok', rows: [1, 2, 3] }] });
  });
});
