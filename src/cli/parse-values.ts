import { usage } from '../errors.js';

/** Small value parsers shared by every command's config; each names the flag and what was given. */

export function wholeNumber(flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = raw === undefined ? NaN : Number(raw);
  if (raw === undefined || !/^\s*\d+\s*$/.test(raw) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw usage(`${flag} must be a whole number ${range} (got ${JSON.stringify(raw ?? '')})`);
  }
  return value;
}

export function positiveNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) throw usage(`${flag} must be a number > 0 (got ${JSON.stringify(raw)})`);
  return value;
}

/** `30s`, `1500ms`, `2m`, or a bare number of seconds → milliseconds. */
export function duration(flag: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(raw);
  if (!m) throw usage(`${flag} must be a duration like 30s, 1500ms or 2m (got ${JSON.stringify(raw)})`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1) throw usage(`${flag} must be at least 1ms (got ${JSON.stringify(raw)})`);
  return Math.round(ms);
}

export function httpUrl(flag: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`${flag} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`${flag} must be an http(s) URL (got ${JSON.stringify(url.protocol)})`);
  return url.toString();
}

/** `--header "K: V"` (repeatable) → a header map; names are checked as HTTP tokens. */
export function headers(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of list) {
    const colon = raw.indexOf(':');
    const name = colon < 0 ? '' : raw.slice(0, colon).trim();
    // The value is never echoed: a mistyped header is often an Authorization one.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw usage(`--header must look like "Name: value" (got one without a valid name and colon)`);
    const value = raw.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw usage(`--header ${name}: the value has a line break or NUL`);
    out[name] = value;
  }
  return out;
}

export function oneOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw usage(`${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`);
  return raw as T;
}

/** `--max-failures 100` (rows) or `0.05` (a ratio of rows processed). */
export function maxFailures(raw: string): { count?: number; ratio?: number } {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw usage(`--max-failures must be a row count or a ratio below 1 (got ${JSON.stringify(raw)})`);
  if (n > 0 && n < 1) return { ratio: n };
  if (!Number.isInteger(n)) throw usage(`--max-failures must be a whole row count or a ratio below 1 (got ${JSON.stringify(raw)})`);
  return { count: n };
}
