import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { BulkImportError } from '../errors.js';
import type { Horizon } from './changed-column.js';
import { formatMs } from './postgres-connect.js';
import type { ReadOnlySession } from './read-only-session.js';
import { quoteIdent } from './sql.js';

/**
 * The horizon of a bigint version column (a value drawn from a sequence by a trigger or a column
 * default on every insert and update): every committed row whose version is < `since` was
 * visible to the reads of the run that recorded it; the next catch-up reads version ≥ `at`.
 *
 * Why a wait, and why it is sound. A sequence hands out values in the order they are drawn, not
 * in the order their transactions commit: a transaction that drew 100 and commits after another
 * that drew 101 leaves a row the run could not see, below the largest version it did see. There
 * is no mapping from an open transaction to the versions it drew (its rows are invisible), so
 * the horizon cannot be lowered to them as a time horizon is lowered to the oldest writer's
 * start. Instead, in one statement (one snapshot), it takes M = the largest version visible and
 * the transactions in progress at it (which needs no privilege), and waits,
 * bounded by --catch-up-wait, for those of this database to end, before the run reads anything.
 * Then every version ≤ M was drawn before the snapshot (values drawn later are larger), either
 * by a transaction committed in it (visible) or by one in progress at it, which has now ended
 * (committed: visible to every read that follows; aborted: no row). Subtransactions need
 * nothing more: they end with their top transaction. So `since` = M + 1.
 *
 * A writer still open after the wait: a catch-up keeps the previous horizon's `since` (sound by
 * induction: the writers open at that one were waited for, so any open now got its transaction
 * id, and drew its versions, after it) and says so; the copy refuses to start (there is no
 * earlier horizon, and one from the start of the table would re-send everything).
 *
 * What the overlap (a count of versions) is for: a value is drawn an instant before its writer
 * gets a transaction id (in the BEFORE trigger or the default), so a writer caught in that
 * instant is not in the snapshot; and a sequence with CACHE > 1 hands values out of order across
 * sessions. A version the application fetches ahead of its write (nextval, then INSERT later) is
 * outside both: give such a column a trigger.
 */
export interface VersionHorizon {
  readonly column: string;
  readonly type: 'version';
  /** `since` minus the overlap (decimal text of a bigint). */
  readonly at: string;
  /** M + 1, M the largest version committed when it was taken (or the previous `since`, held back). */
  readonly since: string;
  /**
   * M + 1 even when `since` was held back: the run could send any version below it, so the next
   * catch-up counts its rows from `at` up to here as re-sent (inside the overlap, or held back).
   */
  readonly seen: string;
  readonly overlapVersions: number;
  /** When it was taken (ISO): a version has no time, so the lag is counted from this. */
  readonly takenAt: string;
  /** Writing transactions open when it was taken, that the run waited for. */
  readonly waitedFor: number;
  /** Of those, how many were still open after --catch-up-wait (`since` was held back). */
  readonly stillOpen: number;
}

const BIGINT_MIN = -(2n ** 63n);
const POLL_MS = 100;

export interface VersionMeasure {
  /** The source as a FROM item (a table, or a --query in brackets). */
  readonly from: string;
  readonly column: string;
  readonly overlap: number;
  readonly waitMs: number;
  readonly previous?: Horizon;
  readonly signal?: AbortSignal;
}

export async function measureVersionHorizon(
  session: ReadOnlySession,
  m: VersionMeasure,
  warn: (line: string) => void,
): Promise<VersionHorizon> {
  const c = `s.${quoteIdent(m.column)}`;
  // One statement: the max comes from its snapshot; the transactions in progress at it are the
  // snapshot's list (xip) and, since a snapshot lists none at or above its xmax (the newest
  // writers), every transaction holding its own id's lock a moment later (pg_locks, read after the
  // snapshot was taken: a writer running at it either still runs then, or has ended). A few that
  // began in between are waited for too: harmless. Ids compared as 32-bit xids, as pg_locks shows
  // them (xid8 modulo 2^32); a wait lasts far less than a wraparound.
  // The session reads every value as text (postgres-connect.ts): the list comes joined.
  const [max, takenAt, xip, standby] = await session.read(async (client) => {
    const res = await client.query({
      text: `SELECT (SELECT max(${c}) FROM ${m.from} s)::text,
               pg_is_in_recovery(),
               floor(extract(epoch FROM statement_timestamp()) * 1000)::float8::text,
               (SELECT string_agg(DISTINCT x, ',') FROM (
                  SELECT (x::text::numeric % 4294967296)::text FROM pg_snapshot_xip(pg_current_snapshot()) x
                  UNION ALL
                  SELECT l.transactionid::text FROM pg_locks l
                    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted) u(x))`,
      rowMode: 'array',
      queryMode: 'extended',
    } as pg.QueryArrayConfig);
    const [top, recovery, now, list] = res.rows[0] as (string | null)[];
    const at = new Date(Number(now)).toISOString();
    return [top ?? null, at, list ? list.split(',') : [], recovery === 't' || (recovery as unknown) === true] as const;
  }, 'measuring the catch-up horizon');
  // A standby's pg_locks does not show the primary's transactions: it could not wait for them.
  if (standby) {
    throw new BulkImportError(
      'CONFIG',
      `--changed-column ${m.column}: a version horizon waits for the primary's open writers, which a standby cannot see; read from the primary`,
    );
  }
  let open = await writersOf(session, xip);
  const waitedFor = open.length;
  for (const end = Date.now() + m.waitMs; open.length > 0 && Date.now() < end && !m.signal?.aborted; ) {
    await sleep(POLL_MS, undefined, m.signal ? { signal: m.signal } : {}).catch(() => undefined);
    open = await writersOf(
      session,
      open.map((w) => w.xid),
    );
  }
  const seen = max === null ? BIGINT_MIN : BigInt(max) + 1n;
  let since = seen;
  const who = `${open.length} transaction${open.length === 1 ? '' : 's'} that ha${open.length === 1 ? 's' : 've'} written (${pids(open)})`;
  if (open.length > 0) {
    const previous = m.previous?.type === 'version' ? BigInt(m.previous.since) : undefined;
    if (previous === undefined) {
      // A stop during the wait ends the run before it reads: there is no sound horizon to record.
      if (m.signal?.aborted) {
        throw new BulkImportError(
          'STOPPED',
          `--changed-column ${m.column}: stopped while the horizon waited for ${who}; nothing was read`,
        );
      }
      throw new BulkImportError(
        'CONFIG',
        `--changed-column ${m.column}: after --catch-up-wait ${formatMs(m.waitMs)}, ${who} still open since before the copy: end ${open.length === 1 ? 'it' : 'them'}, or raise --catch-up-wait; nothing was read`,
      );
    }
    since = previous < seen ? previous : seen;
  }
  const lowest = since - BigInt(m.overlap);
  const at = lowest < BIGINT_MIN ? BIGINT_MIN : lowest;
  if (open.length > 0) {
    warn(
      `the horizon is held back: ${who} open when it was taken still ${open.length === 1 ? 'is' : 'are'} after --catch-up-wait ${formatMs(m.waitMs)}; the next catch-up starts at version ${at} again`,
    );
  }
  return {
    column: m.column,
    type: 'version',
    at: String(at),
    since: String(since),
    seen: String(seen),
    overlapVersions: m.overlap,
    takenAt,
    waitedFor,
    stillOpen: open.length,
  };
}

interface Writer {
  readonly xid: string;
  readonly pid: string | null;
}

/**
 * Of the given transaction ids, those still running: a transaction holds the lock on its own id
 * until it has ended and its end is visible to new snapshots (what PostgreSQL's own waits on a
 * transaction rely on). Less those of a backend of another database, which cannot write here; a
 * prepared transaction (no backend) is kept. pg_locks and pg_stat_activity's database need no
 * privilege.
 */
async function writersOf(session: ReadOnlySession, xids: readonly string[]): Promise<Writer[]> {
  if (xids.length === 0) return [];
  return session.read(async (client) => {
    const res = await client.query({
      text: `SELECT l.transactionid::text, min(l.pid)::text
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                 AND l.transactionid::text = ANY ($1::text[])
                 AND (a.datid IS NULL OR a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))
               GROUP BY l.transactionid::text`,
      values: [`{${xids.join(',')}}`],
      rowMode: 'array',
      queryMode: 'extended',
    } as pg.QueryArrayConfig);
    return (res.rows as unknown as [string, string | null][]).map(([xid, pid]) => ({ xid, pid }));
  }, 'waiting for the transactions open at the horizon');
}

function pids(ws: readonly Writer[]): string {
  const known = ws.flatMap((w) => (w.pid ? [w.pid] : []));
  if (known.length === 0) return 'prepared or of unknown sessions';
  const shown = known.slice(0, 5).join(', ');
  return `pid ${shown}${known.length > 5 ? ', …' : ''}`;
}
