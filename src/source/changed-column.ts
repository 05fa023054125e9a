import type pg from 'pg';
import { BulkImportError, errorCode } from '../errors.js';
import { wrapPgError } from './postgres-connect.js';
import { ReadOnlySession } from './read-only-session.js';
import { qualifiedTable, quoteIdent } from './sql.js';

/**
 * A commit-safe horizon H: every row whose changed column is < H and that is committed now was
 * visible to the reads of the run that recorded it (the next catch-up reads changed ≥ H).
 */
export interface Horizon {
  readonly column: string;
  /** ISO time: `since` minus the overlap. */
  readonly at: string;
  /** min(statement time, start of the oldest open transaction that has written), before the overlap. */
  readonly since: string;
  readonly overlapMs: number;
  /** False when pg_stat_activity hid other users' sessions: the overlap alone covers them. */
  readonly sawAllSessions: boolean;
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

/**
 * Checks what catch-up relies on (the column exists and is a timestamp; NULLs and a missing
 * index are reported through `warn`) and measures the horizon, in its own short read-only
 * session, before the run reads anything.
 */
export async function measureHorizon(
  src: ChangedColumnSource,
  column: string,
  overlapMs: number,
  warn: (line: string) => void,
): Promise<Horizon> {
  const session = await ReadOnlySession.open(src.url, src.statementTimeoutMs);
  const flag = `--changed-column ${column}`;
  const from = src.table ? qualifiedTable(src.table) : `(\n${src.query}\n)`;
  try {
    return await session.read(async (client) => {
      let field: pg.FieldDef | undefined;
      try {
        const probe = await ask(client, `SELECT s.${quoteIdent(column)} FROM ${from} s LIMIT 0`);
        field = probe.fields[0];
      } catch (err) {
        if (errorCode(err) === '42703') throw new BulkImportError('CONFIG', `${flag}: no such column`);
        throw err;
      }
      if (!field || (field.dataTypeID !== TIMESTAMP && field.dataTypeID !== TIMESTAMPTZ)) {
        const type = await ask(client, 'SELECT format_type($1::oid, NULL)', [String(field?.dataTypeID ?? 0)]);
        throw new BulkImportError(
          'CONFIG',
          `${flag}: the column is ${type.rows[0]?.[0] ?? 'of an unknown type'}; catch-up needs timestamp or timestamptz`,
        );
      }
      if (field.tableID) await checkNullsAndIndex(client, field, from, flag, src.where, warn);
      else warn(`${flag}: a --query column; cannot check its NULLs or index`);
      if (field.dataTypeID === TIMESTAMP) warn(`${flag}: timestamp without time zone: its values are compared as UTC`);
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
    }, 'measuring the catch-up horizon');
  } catch (err) {
    if (err instanceof BulkImportError) throw err;
    throw wrapPgError(err, { url: src.url, ...(src.table ? { table: src.table } : {}) });
  } finally {
    await session.close().catch(() => undefined);
  }
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

/** Rows with from ≤ changed < until: a catch-up's rows that were re-sent only because of the overlap. */
export async function countChangedBetween(
  src: ChangedColumnSource,
  column: string,
  from: string,
  until: string,
): Promise<number> {
  if (Date.parse(until) <= Date.parse(from)) return 0;
  const session = await ReadOnlySession.open(src.url, src.statementTimeoutMs);
  const fromSql = src.table ? qualifiedTable(src.table) : `(\n${src.query}\n)`;
  const filter = src.where ? ` AND (\n${src.where}\n)` : '';
  const c = `s.${quoteIdent(column)}`;
  try {
    const res = await session.read(
      (client) =>
        ask(
          client,
          `SELECT count(*)::text FROM ${fromSql} s WHERE ${c} >= $1::timestamptz AND ${c} < $2::timestamptz${filter}`,
          [from, until],
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

/** The catch-up's filter: rows changed at or after `from` (an ISO time, a quoted literal). */
export function changedSince(column: string, from: string): string {
  if (!/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(from)) throw new BulkImportError('CONFIG', `not a horizon time: ${from}`);
  return `s.${quoteIdent(column)} >= '${from}'::timestamptz`;
}
