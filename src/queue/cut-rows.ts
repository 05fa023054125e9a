import { utf8 } from './envelope.js';

/** A row boundary in a run of comma-separated rows: `chars` is the comma's index. */
export interface Cut {
  readonly chars: number;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * The longest prefix of whole rows (at most `maxRows`) whose UTF-8 size fits `maxBytes`, found
 * by tracking strings and nesting up to the first boundary past the budget: a character is at
 * least one byte, so no later boundary can fit. Undefined when not even one row fits.
 */
export function cutRows(text: string, maxBytes: number, maxRows: number): Cut | undefined {
  const bounds: number[] = [];
  let depth = 0;
  let inString = false;
  let end = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 0) {
      if (i > maxBytes) {
        end = false;
        break;
      }
      bounds.push(i);
      if (bounds.length === maxRows) {
        end = false;
        break;
      }
    }
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
