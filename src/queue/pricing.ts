/** SQS standard queue list price, per million requests (first tier; every 64 KiB of a call counts as one). */
export const PRICE_PER_MILLION_REQUESTS = 0.4;

/** Dollars per million rows for the billed requests counted so far. */
export function costPerMillionRows(counters: { readonly billed: number }, rows: number): number {
  return rows > 0 ? (counters.billed * PRICE_PER_MILLION_REQUESTS) / rows : 0;
}
