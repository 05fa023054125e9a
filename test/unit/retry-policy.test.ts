import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyError,
  classifyRefusal,
  classifyStatus,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
} from '../../src/http/retry-policy.js';

describe('retry policy', () => {
  it('retries what may succeed later and nothing else', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(classifyStatus(s), String(s)).toBe('retry');
    for (const s of [400, 401, 403, 404, 409, 413, 422, 501]) expect(classifyStatus(s), String(s)).toBe('permanent');
    for (const s of [200, 201, 202, 204]) expect(classifyStatus(s)).toBe('ok');
    expect(classifyError('ECONNRESET')).toBe('retry');
    expect(classifyError('UND_ERR_HEADERS_TIMEOUT')).toBe('retry');
    expect(classifyError('ERR_INVALID_ARG_TYPE')).toBe('permanent');
    expect(classifyError(undefined)).toBe('permanent');
    expect(classifyStatus(431)).toBe('retry'); // after dropping the lane's cookies
    expect(classifyError('REQUEST_DEADLINE')).toBe('retry');
  });

  it('tells a refused body from a wrong endpoint and from a failing server', () => {
    for (const s of [400, 409, 413, 418, 422, 451]) expect(classifyRefusal(s), String(s)).toBe('content');
    for (const s of [301, 302, 307, 308, 401, 403, 404, 405, 407, 410, 415, 431])
      expect(classifyRefusal(s), String(s)).toBe('endpoint');
    for (const s of [408, 429, 500, 501, 502, 503, 504]) expect(classifyRefusal(s), String(s)).toBe('server');
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('uses full jitter under an exponential ceiling, and honours a capped Retry-After', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 };
    expect(backoffDelay(p, 1, undefined, () => 0.999)).toBe(100);
    expect(backoffDelay(p, 3, undefined, () => 0.999)).toBe(400);
    expect(backoffDelay(p, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(p, 3, undefined, () => 0)).toBe(0);
    expect(backoffDelay(p, 1, 2000, () => 0)).toBe(2000);
    expect(backoffDelay(p, 1, 60_000, () => 0)).toBe(5000);
  });
});
