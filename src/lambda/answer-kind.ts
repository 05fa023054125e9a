import type { SendResult } from '../http/sticky-client.js';

/**
 * What the API's final answer to one request says about where the fault lies:
 * - `ok`: delivered;
 * - `row`: this content is wrong (400, 409, 413, 422): a smaller piece may pass, and a single row
 *   refused this way is a row problem, to be kept where it can be replayed;
 * - `endpoint`: the request cannot succeed whatever it holds (3xx, 401, 403, 404, 405, 407, and
 *   any other 4xx): a wrong URL, a missing or expired credential. No row is at fault, so no row
 *   may be set aside: the message stays on the queue for redelivery, then the dead-letter queue;
 * - `retry`: retries were used up on a transient failure (5xx, 429, a network error).
 */
export type AnswerKind = 'ok' | 'row' | 'endpoint' | 'retry';

const ROW_STATUSES = new Set([400, 409, 413, 422]);
const TRANSIENT_STATUSES = new Set([408, 429]);

export function answerKind(r: SendResult): AnswerKind {
  if (r.ok) return 'ok';
  const s = r.status;
  if (s === null || s >= 500 || TRANSIENT_STATUSES.has(s)) return 'retry';
  return ROW_STATUSES.has(s) ? 'row' : 'endpoint';
}
