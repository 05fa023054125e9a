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

/** 431: our Cookie header grew too large; the client drops the lane's cookies before the retry. */
const RETRY_STATUS = new Set([408, 429, 431, 500, 502, 503, 504]);

/** Socket-level failures worth another try: the request may never have reached the API. */
const RETRY_ERRORS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_DESTROYED',
  'REQUEST_DEADLINE',
]);

export type Verdict = 'ok' | 'retry' | 'permanent';

export function classifyStatus(status: number): Verdict {
  if (status >= 200 && status < 300) return 'ok';
  return RETRY_STATUS.has(status) ? 'retry' : 'permanent';
}

/**
 * Why a request was refused for good (a status `classifyStatus` calls permanent, or a retryable one
 * whose retries ran out). `content`: this body is wrong (400, 409, 413, 422 and other 4xx), so
 * smaller pieces may go through and only the rows refused alone are failed. `endpoint`: the URL,
 * method or credentials are wrong (3xx, since redirects are not followed, 401, 403, 404, 405, 407
 * and the others below), and every other row would be refused the same way: failing them one by
 * one would copy the whole table into the failed file. `server`: 5xx and retryable 4xx after the
 * retries; the rows are failed, halving them would not help.
 */
export type Refusal = 'content' | 'endpoint' | 'server';

/** Statuses about the request's URL, method, headers or credentials, never its body. */
const ENDPOINT_STATUS = new Set([401, 402, 403, 404, 405, 406, 407, 410, 411, 414, 415, 426, 431]);

export function classifyRefusal(status: number): Refusal {
  if (status < 200 || (status >= 300 && status < 400) || ENDPOINT_STATUS.has(status)) return 'endpoint';
  if (status >= 500 || RETRY_STATUS.has(status)) return 'server';
  return 'content';
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
export function backoffDelay(
  policy: RetryPolicy,
  retryNumber: number,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  if (retryAfterMs !== undefined) {
    const wanted = Math.min(retryAfterMs, policy.maxRetryAfterMs);
    return Math.round(wanted + random() * Math.min(1000, wanted * 0.1));
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retryNumber - 1));
  return Math.round(random() * ceiling);
}
