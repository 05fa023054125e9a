import type { StickyMode } from '../http/cookie-lanes.js';
import { BulkImportError, usage } from '../errors.js';
import { redactUrl } from '../redact.js';

/**
 * The value rules every entry point checks its settings with: the CLI's flags, the library's
 * options and the Lambda's environment variables. Each rule takes the name to report (a flag
 * such as `--concurrency`, an option such as `concurrency`, a variable such as `CONCURRENCY`)
 * and says what was given, in one line. A value may come as text (a flag, a variable) or typed
 * (the library): `'16'` and `16` are the same count, `'30s'` and `30000` the same duration.
 */

/** A count: a number, or its text as a flag or a variable gives it. */
export type Count = number | string;
/** Milliseconds as a number, or a text like `30s`, `1500ms`, `2m` (a bare text number is seconds). */
export type Duration = number | string;

const shown = (raw: unknown) => JSON.stringify(typeof raw === 'string' ? raw : String(raw));

export function wholeNumber(name: string, raw: Count | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw === undefined ? '' : String(raw);
  const value = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw usage(`${name} must be a whole number ${range} (got ${JSON.stringify(text)})`);
  }
  return value;
}

/** `auto` (any case, spaces around) in place of a count: `--concurrency auto`, `CONCURRENCY=auto`. */
export function isAuto(raw: Count | undefined): boolean {
  return typeof raw === 'string' && raw.trim().toLowerCase() === 'auto';
}

export function positiveNumber(name: string, raw: Count): number {
  const value = Number(raw);
  if (String(raw).trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw usage(`${name} must be a number > 0 (got ${shown(raw)})`);
  }
  return value;
}

/** `30s`, `1500ms`, `2m`, or a bare number of seconds → milliseconds; a number is milliseconds already. */
export function duration(name: string, raw: Duration): number {
  let ms: number;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw usage(`${name} must be a number of milliseconds (got ${shown(raw)})`);
    ms = raw;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(raw);
    if (!m) throw usage(`${name} must be a duration like 30s, 1500ms or 2m (got ${JSON.stringify(raw)})`);
    const n = Number(m[1]);
    ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  }
  if (ms < 1) throw usage(`${name} must be at least 1ms (got ${shown(raw)})`);
  return Math.round(ms);
}

/** A duration, or `0` / `off` for never (→ 0). */
export function durationOrOff(name: string, raw: Duration): number {
  if (raw === 0 || (typeof raw === 'string' && /^\s*(0+|off)\s*$/i.test(raw))) return 0;
  if (typeof raw === 'string' && !/^\s*\d/.test(raw)) {
    throw usage(`${name} must be a duration like 5m or 30s, or off (got ${JSON.stringify(raw)})`);
  }
  return duration(name, raw);
}

/** An http(s) URL, normalised; what was given is echoed with its secrets masked. */
export function httpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`${name} must be an http(s) URL (got ${JSON.stringify(redactUrl(raw).slice(0, 80))})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usage(`${name} must be an http(s) URL (got ${JSON.stringify(url.protocol)})`);
  }
  return url.toString();
}

const METHODS = ['POST', 'PUT', 'PATCH'] as const;

export function method(name: string, raw: string): string {
  const m = raw.toUpperCase();
  if (!(METHODS as readonly string[]).includes(m)) {
    throw usage(`${name} must be POST, PUT or PATCH (got ${JSON.stringify(raw)})`);
  }
  return m;
}

export function stickyMode(name: string, raw: string): StickyMode {
  if (raw !== 'lane' && raw !== 'shared' && raw !== 'off') {
    throw usage(`${name} must be lane, shared or off (got ${JSON.stringify(raw)})`);
  }
  return raw;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A header name is an HTTP token; the value is never echoed (a mistyped header is often an Authorization one). */
export function headerName(name: string, header: string): string {
  if (!TOKEN.test(header)) throw usage(`${name}: ${JSON.stringify(header)} is not a valid header name`);
  return header;
}

export function headerValue(name: string, header: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw usage(`${name} ${header}: the value has a line break or NUL`);
  return value;
}

/** `"K: V"` lines (the CLI's repeatable -H) → a header map. */
export function headerLines(name: string, list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of list) {
    const colon = raw.indexOf(':');
    const header = colon < 0 ? '' : raw.slice(0, colon).trim();
    if (!TOKEN.test(header)) {
      throw usage(`${name} must look like "Name: value" (got one without a valid name and colon)`);
    }
    out[header] = headerValue(name, header, raw.slice(colon + 1).trim());
  }
  return out;
}

/** A header map given whole (the library's object, the Lambda's HEADERS JSON): names and values checked. */
export function headerMap(name: string, map: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map)) out[headerName(name, k)] = headerValue(name, k, String(v));
  return out;
}

export function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) {
    throw usage(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`);
  }
  return raw as T;
}

/** `100` (rows) or `0.05` (a ratio of rows processed). */
export function maxFailures(name: string, raw: Count): { count?: number; ratio?: number } {
  const n = Number(raw);
  if (String(raw).trim() === '' || !Number.isFinite(n) || n < 0) {
    throw usage(`${name} must be a row count or a ratio below 1 (got ${shown(raw)})`);
  }
  if (n > 0 && n < 1) return { ratio: n };
  if (!Number.isInteger(n)) throw usage(`${name} must be a whole row count or a ratio below 1 (got ${shown(raw)})`);
  return { count: n };
}

/** A file path must not be empty: `--failed ''` (an unset shell variable) must not quietly mean "nowhere". */
export function filePath(name: string, raw: string): string {
  if (raw.trim() === '') throw usage(`${name} needs a file path (got an empty value: an unset variable?)`);
  return raw;
}

/**
 * Runs rules whose failures are the deployment's configuration, not a command line: the Lambda
 * reports them as CONFIG errors, with the same one-line message.
 */
export function asConfigErrors<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof BulkImportError && err.code === 'USAGE') {
      throw new BulkImportError('CONFIG', err.message, { cause: err });
    }
    throw err;
  }
}
