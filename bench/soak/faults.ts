import type { FaultScript } from '../../test/helpers/http-sink.js';
import { splitJsonArray } from '../../src/source/batch.js';

/**
 * The soak's API: 2 % 503, 1 % 429 with Retry-After, 0.5 % connection resets, the rest answered
 * in 2–15 ms. Decisions come from a seeded generator, so a run can be repeated.
 */
export function faultyApi(seed: number): FaultScript {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: small, fast and good enough to spread faults.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return () => {
    const r = next();
    if (r < 0.02) return { status: 503 };
    if (r < 0.03) return { status: 429, retryAfter: '1' };
    if (r < 0.035) return { reset: true };
    return { delayMs: 2 + Math.floor(next() * 14) };
  };
}

/**
 * Checks every row of every request body against the source's own text of that row: a row
 * that arrives must arrive byte for byte as PostgreSQL rendered it, whatever was retried,
 * split or resumed around it.
 */
export function byteChecker(source: ReadonlyMap<string, string>): { check: FaultScript; mismatches: () => string[] } {
  const bad: string[] = [];
  const check: FaultScript = ({ body, ids }) => {
    const rows = body.trimStart().startsWith('[') ? splitJsonArray(body) : [body.trim()];
    rows.forEach((row, i) => {
      const id = ids[i] ?? '?';
      if (source.get(id) !== row && bad.length < 20) bad.push(id);
    });
    return undefined;
  };
  return { check, mismatches: () => bad };
}
