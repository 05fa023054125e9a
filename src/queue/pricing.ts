/** SQS bills each 64 KiB chunk of a request's payload as one request. */
export const BILLING_CHUNK = 65_536;

/** SQS standard queue list price, per million requests (first tier; every 64 KiB of a call counts as one). */
export const PRICE_PER_MILLION_REQUESTS = 0.4;

/** Dollars per million rows for the billed requests counted so far. */
export function costPerMillionRows(counters: { readonly billed: number }, rows: number): number {
  return rows > 0 ? (counters.billed * PRICE_PER_MILLION_REQUESTS) / rows : 0;
}

/** The summary's queue line: messages, SQS requests as billed, and their list price per million rows. */
export function formatQueueSummary(
  c: { readonly messages: number; readonly calls: number; readonly billed: number },
  rowsEnqueued: number,
): string {
  const cost = costPerMillionRows(c, rowsEnqueued);
  return (
    `  queue: ${c.messages} messages in ${c.calls} SendMessageBatch calls = ${c.billed} billed SQS requests` +
    ` (every 64 KiB counts); $${cost.toFixed(4)} per million rows at $0.40 per million requests`
  );
}
