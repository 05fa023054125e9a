/**
 * What to do with one attempt's outcome, and how long to wait before the next. Pure functions,
 * so the rules are tested without a server.
 */
export interface RetryPolicy {
  /** Attempts after the first. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A server's Retry-After is honoured up to this much. */
  readonly maxRetryAfterMs: number;
}

export { DEFAULT_RETRY_POLICY } from '../config/defaults.js';

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Socket-level failures worth another try: the request may never have reached the API. */
const RETRY_ERRORS = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_DESTROYED',
]);

export type Verdict = 'ok' | 'retry' | 'permanent';

export function classifyStatus(status: number): Verdict {
  if (status >= 200 && status < 300) return 'ok';
  return RETRY_STATUS.has(status) ? 'retry' : 'permanent';
}

export function classifyError(code: string | undefined): Verdict {
  return code !== undefined && RETRY_ERRORS.has(code) ? 'retry' : 'permanent';
}

/** Retry-After as seconds or an HTTP date → milliseconds from `now`, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Exponential backoff with full jitter (a uniform pick in [0, min(cap, base·2^n))), so lanes
 * that failed together do not come back together. A Retry-After from the server wins, capped,
 * plus a little jitter for the same reason.
 */
export function backoffDelay(policy: RetryPolicy, retryNumber: number, retryAfterMs: number | undefined, random = Math.random): number {
  if (retryAfterMs !== undefined) {
    const wanted = Math.min(retryAfterMs, policy.maxRetryAfterMs);
    return Math.round(wanted + random() * Math.min(1000, wanted * 0.1));
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.round(random() * ceiling);
}
