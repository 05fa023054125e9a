import pg from 'pg';
import { BulkImportError, errorCode, errorMessage } from '../errors.js';
import { redactUrl } from '../redact.js';

/** Every value stays PostgreSQL's text: the source never lets pg turn a key into a Number or Date. */
const asText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/** Five minutes: a page read that takes longer is stuck, not slow. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 300_000;

/**
 * One connection with settings that make key text stable: ISO dates and UTC, so a checkpoint's
 * watermark and the idempotency keys derived from key text are the same whatever the server's or
 * the laptop's time zone. (timestamptz values in rows therefore arrive with a +00:00 offset.)
 *
 * The session is read-only from its first byte: the startup packet's `options` set
 * default_transaction_read_only and statement_timeout, so no statement of this session can
 * write (SQLSTATE 25006) or run unbounded, before any SET could be forgotten. Reads also run
 * in explicit READ ONLY transactions (read-only-session.ts).
 */
export async function connectPostgres(url: string, opts: { statementTimeoutMs?: number } = {}): Promise<pg.Client> {
  const timeout = Math.round(opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS);
  const readOnly = `-c default_transaction_read_only=on -c statement_timeout=${timeout}`;
  const { connectionString, options } = withStartupOptions(url, readOnly);
  // pg reports its own connect timeout as a plain Error without a code: any failure to connect
  // is "unreachable", so it is mapped here, where we know it happened while connecting.
  const client = new pg.Client({
    connectionString,
    types: asText,
    application_name: 'bulk-import',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    options,
  });
  // A connection that dies mid-run emits 'error' on the client; the failing query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    // standard_conforming_strings: key values are inlined as literals into COPY (see copy-out.ts).
    await client.query(
      `SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET standard_conforming_strings = on`,
    );
  } catch (err) {
    await client.end().catch(() => undefined);
    const wrapped = wrapPgError(err, { url });
    if (wrapped.code !== 'SOURCE_FAILED') throw wrapped;
    throw new BulkImportError(
      'SOURCE_UNREACHABLE',
      `cannot connect to ${redactUrl(url)}: ${scrub(errorMessage(err), url)}`,
      { cause: err },
    );
  }
  return client;
}

/**
 * pg lets an `options` parameter in the URL replace the one given beside it, which would drop
 * the read-only setting: the URL's own options (say `-c search_path=app`) are moved in front of
 * ours instead, so the server applies both and ours win.
 */
export function withStartupOptions(url: string, ours: string): { connectionString: string; options: string } {
  const q = url.indexOf('?');
  if (q < 0) return { connectionString: url, options: ours };
  const theirs: string[] = [];
  const kept = url
    .slice(q + 1)
    .split('&')
    .filter((pair) => {
      if (!/^options=/i.test(pair)) return true;
      theirs.push(decodeURIComponent(pair.slice('options='.length).replaceAll('+', ' ')));
      return false;
    });
  const connectionString = kept.length ? `${url.slice(0, q)}?${kept.join('&')}` : url.slice(0, q);
  return { connectionString, options: [...theirs, ours].join(' ') };
}

/** Maps pg and socket errors by their codes (SQLSTATE or errno), never by message text. */
export function wrapPgError(
  err: unknown,
  ctx: { url: string; table?: string; key?: readonly string[] },
  when: 'start' | 'mid-run' = 'start',
): BulkImportError {
  if (err instanceof BulkImportError) return err;
  const sqlstate = errorCode(err);
  if (sqlstate === '25006') {
    // Whenever it happens: SQL in --query or --where tried to write, and the session refused.
    const detail = scrub(errorMessage(err), ctx.url);
    const message = `the source is read-only: ${detail} (--query and --where may only read)`;
    return new BulkImportError('CONFIG', message, { cause: err });
  }
  if (when === 'mid-run') {
    // Rows were already sent: a lost connection now is a broken run (exit 1, checkpoint kept), not bad config.
    const detail = scrub(errorMessage(err), ctx.url);
    return new BulkImportError(
      'SOURCE_FAILED',
      `reading ${redactUrl(ctx.url)} failed mid-run: ${detail} (resume with --resume)`,
      { cause: err },
    );
  }
  const code = errorCode(err);
  const where = redactUrl(ctx.url);
  const detail = scrub(errorMessage(err), ctx.url);
  switch (code) {
    case '42P01':
      return new BulkImportError('NO_SUCH_TABLE', `no such table: ${ctx.table ?? '(query)'} (${detail})`, {
        cause: err,
      });
    case '42703':
      return new BulkImportError('NO_SUCH_COLUMN', `no such column: ${detail}`, { cause: err });
    case '42601':
    case '0A000': // e.g. a data-modifying WITH inside the tool's subquery
    case '42883':
    case '42804':
    case '22P02':
      return new BulkImportError('CONFIG', `the database rejected the query: ${detail}`, { cause: err });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ECONNRESET':
    case '28P01':
    case '28000':
    case '3D000':
      return new BulkImportError('SOURCE_UNREACHABLE', `cannot connect to ${where}: ${detail}`, { cause: err });
  }
  return new BulkImportError('SOURCE_FAILED', `database error${code ? ` ${code}` : ''}: ${detail}`, { cause: err });
}

function scrub(message: string, url: string): string {
  let out = message;
  try {
    const pw = new URL(url).password;
    if (pw) out = out.split(decodeURIComponent(pw)).join('***');
  } catch {
    /* not a URL */
  }
  return out;
}

/** 300000 → "5m", 1000 → "1s", 1500 → "1500ms": as a user would type it in a flag. */
export function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
