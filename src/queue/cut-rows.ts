import { valueEnd } from '../json/scan.js';
import { utf8 } from './envelope.js';

/** A row boundary in a run of comma-separated rows: `chars` is the comma's index. */
export interface Cut {
  readonly chars: number;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * The longest prefix of whole rows (at most `maxRows`) whose UTF-8 size fits `maxBytes`, found
 * by scanning (src/json/scan.ts) up to the first boundary past the budget: a character is at
 * least one byte, so no later boundary can fit. Undefined when not even one row fits.
 */
export function cutRows(text: string, maxBytes: number, maxRows: number): Cut | undefined {
  const bounds: number[] = [];
  let end = true;
  for (let i = 0; ; ) {
    const comma = valueEnd(text, i);
    // The end of the run (or a stray closing bracket, which ends it too).
    if (comma === text.length || text.charCodeAt(comma) !== 0x2c) break;
    if (comma > maxBytes) {
      end = false;
      break;
    }
    bounds.push(comma);
    if (bounds.length === maxRows) {
      end = false;
      break;
    }
    i = comma + 1;
  }
  if (end && text.length <= maxBytes) bounds.push(text.length);
  if (bounds.length === 0) return undefined;
  // Mostly ASCII: the last boundary within the budget by characters fits by bytes too.
  const last = bounds[bounds.length - 1] as number;
  const lastBytes = utf8(text.slice(0, last));
  if (lastBytes <= maxBytes) return { chars: last, rows: bounds.length, bytes: lastBytes };
  // Otherwise byte size grows with the prefix: binary search for the last boundary that fits.
  let lo = 0;
  let hi = bounds.length - 1;
  let best: Cut | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const chars = bounds[mid] as number;
    const bytes = utf8(text.slice(0, chars));
    if (bytes <= maxBytes) {
      best = { chars, rows: mid + 1, bytes };
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
