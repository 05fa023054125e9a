import type pg from 'pg';
import type { CatchUpOverlap } from '../config/import-config.js';
import { BulkImportError, errorCode } from '../errors.js';
import { wrapPgError } from './postgres-connect.js';
import { ReadOnlySession } from './read-only-session.js';
import { qualifiedTable, quoteIdent } from './sql.js';
import { measureVersionHorizon, type VersionHorizon } from './version-horizon.js';

export type { VersionHorizon };

/**
 * A commit-safe horizon H: every row whose changed column is < H and that is committed now was
 * visible to the reads of the run that recorded it (the next catch-up reads changed ≥ H). A
 * time horizon for a timestamp column; a version horizon (version-horizon.ts) for a bigint one.
 */
export type Horizon = TimeHorizon | VersionHorizon;

export interface TimeHorizon {
  readonly column: string;
  /** Absent: a time (checkpoints from before version columns have no `type`). */
  readonly type?: undefined;
  /** ISO time: `since` minus the overlap. */
  readonly at: string;
  /** min(statement time, start of the oldest open transaction that has written), before the overlap. */
  readonly since: string;
  readonly overlapMs: number;
  /** False when pg_stat_activity hid other users' sessions: the overlap alone covers them. */
  readonly sawAllSessions: boolean;
}

/** When the next catch-up's rows start, for one another: what the last one recorded, and how it is measured now. */
export interface HorizonOptions {
  readonly overlap: CatchUpOverlap;
  /** A version horizon's wait for the writers open when it is taken. */
  readonly waitMs: number;
  /** The horizon the previous run recorded (undefined for a copy). */
  readonly previous?: Horizon;
  readonly signal?: AbortSignal;
}

export interface ChangedColumnSource {
  readonly url: string;
  readonly table?: string;
  readonly query?: string;
  readonly where?: string;
  readonly statementTimeoutMs: number;
}

const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
/** Whole numbers: a version drawn from a sequence (int2 and int4 too: they compare like int8). */
const INTEGERS = new Set([20, 21, 23]);

/**
 * Checks what catch-up relies on (the column exists and is a timestamp or a whole-number
 * version; NULLs and a missing index are reported through `warn`) and measures the horizon, in
 * its own short read-only session, before the run reads anything.
 */
export async function measureHorizon(
  src: ChangedColumnSource,
  column: string,
  options: HorizonOptions,
  warn: (line: string) => void,
): Promise<Horizon> {
  const session = await ReadOnlySession.open(src.url, src.statementTimeoutMs);
  const from = src.table ? qualifiedTable(src.table) : `(\n${src.query}\n)`;
  try {
    const checked = await session.read(
      (client) => checkColumn(client, from, column, options, src.where, warn),
      'checking the changed column',
    );
    if (checked.version) {
      return await measureVersionHorizon(session, { ...options, from, column, overlap: checked.overlapVersions }, warn);
    }
    return await session.read(
      (client) => timeHorizon(client, column, checked.overlapMs, warn),
      'measuring the catch-up horizon',
    );
  } catch (err) {
    if (err instanceof BulkImportError) throw err;
    throw wrapPgError(err, { url: src.url, ...(src.table ? { table: src.table } : {}) });
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** The column checked, and the overlap that applies to its kind. */
type Checked =
  | { readonly version: true; readonly overlapVersions: number }
  | { readonly version: false; readonly overlapMs: number };

async function checkColumn(
  client: pg.Client,
  from: string,
  column: string,
  options: HorizonOptions,
  where: string | undefined,
  warn: (line: string) => void,
): Promise<Checked> {
  const flag = `--changed-column ${column}`;
  let field: pg.FieldDef | undefined;
  try {
    const probe = await ask(client, `SELECT s.${quoteIdent(column)} FROM ${from} s LIMIT 0`);
    field = probe.fields[0];
  } catch (err) {
    if (errorCode(err) === '42703') throw new BulkImportError('CONFIG', `${flag}: no such column`);
    throw err;
  }
  const isTime = field?.dataTypeID === TIMESTAMP || field?.dataTypeID === TIMESTAMPTZ;
  const isVersion = field !== undefined && INTEGERS.has(field.dataTypeID);
  if (!field || (!isTime && !isVersion)) {
    const type = await ask(client, 'SELECT format_type($1::oid, NULL)', [String(field?.dataTypeID ?? 0)]);
    throw new BulkImportError(
      'CONFIG',
      `${flag}: the column is ${type.rows[0]?.[0] ?? 'of an unknown type'}; catch-up needs timestamp, timestamptz or a bigint version`,
    );
  }
  const kind = (version: boolean) => (version ? 'a version' : 'a time');
  const was = options.previous && kind(options.previous.type === 'version');
  if (was && was !== kind(isVersion)) {
    throw new BulkImportError('CONFIG', `${flag}: the column's type changed since the copy recorded ${was} horizon`);
  }
  // The overlap's unit must match the column's kind: checked before anything is read or sent.
  const { ms, versions, given } = options.overlap;
  if (isVersion && versions === undefined) {
    throw new BulkImportError(
      'USAGE',
      `--catch-up-overlap ${given}: ${flag} holds versions; give a whole number of versions (e.g. 1000)`,
    );
  }
  if (isTime && ms === undefined) {
    throw new BulkImportError(
      'USAGE',
      `--catch-up-overlap ${given}: ${flag} is a timestamp; give a duration (e.g. 1m)`,
    );
  }
  if (field.tableID) await checkNullsAndIndex(client, field, from, flag, where, warn);
  else warn(`${flag}: a --query column; cannot check its NULLs or index`);
  if (isVersion) return { version: true, overlapVersions: versions as number };
  if (field.dataTypeID === TIMESTAMP) warn(`${flag}: timestamp without time zone: its values are compared as UTC`);
  return { version: false, overlapMs: ms as number };
}

/**
 * min(statement time, start of the oldest open transaction of this database that has written),
 * minus the overlap: rows stamped by now() carry their transaction's start, so a writer open
 * since before the run stamps rows earlier than anything the run read.
 */
async function timeHorizon(
  client: pg.Client,
  column: string,
  overlapMs: number,
  warn: (line: string) => void,
): Promise<TimeHorizon> {
  const res = await ask(
    client,
    `SELECT floor(extract(epoch FROM statement_timestamp()) * 1000)::float8::text,
       o.at, o.pid,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
     FROM (SELECT NULL) one LEFT JOIN (
       SELECT floor(extract(epoch FROM xact_start) * 1000)::float8::text AS at, pid::text AS pid
         FROM pg_stat_activity
         WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()
         ORDER BY xact_start LIMIT 1) o ON true`,
  );
  const [now, oldest, pid, all] = res.rows[0] as (string | null)[];
  // A transaction left open for long holds every horizon back: each catch-up re-sends since its start.
  if (oldest !== null && Number(now) - Number(oldest) > overlapMs) {
    const since = new Date(Number(oldest)).toISOString();
    warn(`the horizon waits for a transaction that has written and is open since ${since} (pid ${pid})`);
  }
  const sawAllSessions = all === 't' || (all as unknown) === true;
  if (!sawAllSessions) {
    warn(
      'cannot see other users\u2019 transactions in pg_stat_activity (needs pg_read_all_stats): ' +
        `the horizon relies on --catch-up-overlap (${overlapMs} ms) alone`,
    );
  }
  const since = Math.min(Number(now), oldest === null ? Number.POSITIVE_INFINITY : Number(oldest));
  return {
    column,
    at: new Date(since - overlapMs).toISOString(),
    since: new Date(since).toISOString(),
    overlapMs,
    sawAllSessions,
  };
}

/** NULLs are never seen by `changed ≥ H`: they are counted and reported. A missing index means full scans. */
async function checkNullsAndIndex(
  client: pg.Client,
  field: pg.FieldDef,
  from: string,
  flag: string,
  where: string | undefined,
  warn: (line: string) => void,
): Promise<void> {
  const att = await ask(
    client,
    `SELECT a.attnotnull, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum)
       FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum = $2::int2`,
    [String(field.tableID), String(field.columnID)],
  );
  const [notNull, indexed] = att.rows[0] ?? [];
  if (!truthy(notNull)) {
    const filter = where ? ` AND (\n${where}\n)` : '';
    const nulls = await ask(
      client,
      `SELECT count(*)::text FROM ${from} s WHERE s.${quoteIdent(field.name)} IS NULL${filter}`,
    );
    const n = Number(nulls.rows[0]?.[0] ?? 0);
    if (n > 0) warn(`${flag}: ${n} rows have a NULL there: catch-up never sees them (the copy sends them)`);
  }
  if (!truthy(indexed)) warn(`${flag}: no index starts with it: each catch-up scans the whole table`);
}

function truthy(v: unknown): boolean {
  return v === true || v === 't';
}

function ask(client: pg.Client, text: string, values: string[] = []): Promise<pg.QueryArrayResult<string[]>> {
  return client.query<string[]>({ text, values, rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
}

/** Where a catch-up's re-sent rows end: the previous horizon's `since`, or for a version the largest it could send. */
export function overlapEnd(previous: Horizon): string {
  return previous.type === 'version' ? previous.seen : previous.since;
}

/**
 * Rows with at ≤ changed < overlapEnd of the previous horizon: a catch-up's rows that are re-sent
 * only because of the overlap (or a version horizon held back). A time or a version, as the horizon is.
 */
export async function countChangedBetween(src: ChangedColumnSource, previous: Horizon): Promise<number> {
  const version = previous.type === 'version';
  const until = overlapEnd(previous);
  if (version ? BigInt(until) <= BigInt(previous.at) : Date.parse(until) <= Date.parse(previous.at)) return 0;
  const session = await ReadOnlySession.open(src.url, src.statementTimeoutMs);
  const fromSql = src.table ? qualifiedTable(src.table) : `(\n${src.query}\n)`;
  const filter = src.where ? ` AND (\n${src.where}\n)` : '';
  const c = `s.${quoteIdent(previous.column)}`;
  // bigint, not numeric: an int column compared with numeric is cast, and its index is not used.
  const type = version ? 'bigint' : 'timestamptz';
  try {
    const res = await session.read(
      (client) =>
        ask(
          client,
          `SELECT count(*)::text FROM ${fromSql} s WHERE ${c} >= $1::${type} AND ${c} < $2::${type}${filter}`,
          [previous.at, until],
        ),
      'counting the rows inside the overlap',
    );
    return Number(res.rows[0]?.[0] ?? 0);
  } catch (err) {
    throw wrapPgError(err, { url: src.url, ...(src.table ? { table: src.table } : {}) });
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** The catch-up's filter: rows changed at or after the previous horizon (a quoted literal, checked). */
export function changedSince(previous: Horizon): string {
  const c = `s.${quoteIdent(previous.column)}`;
  if (previous.type === 'version') {
    if (!/^-?\d{1,19}$/.test(previous.at)) throw new BulkImportError('CONFIG', `not a horizon version: ${previous.at}`);
    return `${c} >= '${previous.at}'::bigint`;
  }
  if (!/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(previous.at))
    throw new BulkImportError('CONFIG', `not a horizon time: ${previous.at}`);
  return `${c} >= '${previous.at}'::timestamptz`;
}
