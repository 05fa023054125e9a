import { byteValueEnd } from '../json/scan.js';

/** A row boundary in a run of comma-separated rows: the prefix of `bytes` holds `rows` whole rows. */
export interface Cut {
  readonly rows: number;
  /** The prefix's length; the comma after it (if any) is at start + bytes. */
  readonly bytes: number;
}

const COMMA = 0x2c;

/**
 * The longest prefix of whole rows (at most `maxRows`) of the run `bytes[start, end)` that fits
 * `maxBytes`, found by scanning (src/json/scan.ts) up to the first boundary past the budget: no
 * later boundary can fit. Undefined when not even one row fits. The run is UTF-8 as the source
 * read it, so a byte count is the size SQS counts: nothing is decoded or measured again.
 */
export function cutRows(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxBytes: number,
  maxRows: number,
): Cut | undefined {
  let rows = 0;
  let cut = start;
  for (let i = start; ; ) {
    const comma = byteValueEnd(bytes, i, end);
    // The end of the run (or a stray closing bracket, which ends it too).
    if (comma === end || bytes[comma] !== COMMA) {
      if (end - start <= maxBytes) {
        rows++;
        cut = end;
      }
      break;
    }
    if (comma - start > maxBytes) break;
    rows++;
    cut = comma;
    if (rows === maxRows) break;
    i = comma + 1;
  }
  return rows === 0 ? undefined : { rows, bytes: cut - start };
}
