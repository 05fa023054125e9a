import type pg from 'pg';
import { BulkImportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { wrapPgError } from '../source/postgres-connect.js';
import { ReadOnlySession, ReadStopped } from '../source/read-only-session.js';
import { qualifiedTable, quoteIdent } from '../source/sql.js';
import type { ShardPlan } from './shard-plan.js';

export interface PlanRequest {
  readonly url: string;
  readonly table?: string;
  readonly query?: string;
  readonly key: readonly string[];
  readonly where?: string;
  readonly shards: number;
  readonly statementTimeoutMs: number;
}

/**
 * Cuts the key space into `shards` ranges of about equal row count, from the key's own
 * distribution: the rows numbered into `ntile(n)` groups in key order (the full composite
 * key, never a hash, so each shard's reads stay index range scans), and the last key of each
 * group but the last is a boundary. One read-only statement, bounded by --statement-timeout.
 */
export async function cutPlan(req: PlanRequest, signal?: AbortSignal): Promise<ShardPlan> {
  const session = await ReadOnlySession.open(req.url, req.statementTimeoutMs);
  const stop = () => session.cancel();
  if (signal?.aborted) stop();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const { rows, boundaries } = await session.read((client) => quantiles(client, req), 'cutting the key space');
    if (rows < req.shards) {
      throw new BulkImportError('CONFIG', `the source has ${rows} rows: too few for --shards ${req.shards}`);
    }
    return {
      version: 1,
      kind: 'bulk-import shard plan',
      source: redactUrl(req.url),
      ...(req.table ? { table: req.table } : {}),
      ...(req.query ? { query: req.query } : {}),
      key: [...req.key],
      ...(req.where ? { where: req.where } : {}),
      shards: req.shards,
      boundaries,
      rows,
      createdAt: new Date().toISOString(),
    };
  } catch (err) {
    if (err instanceof ReadStopped) throw new BulkImportError('CONFIG', 'plan: stopped before the key space was cut');
    throw wrapPgError(err, req);
  } finally {
    signal?.removeEventListener('abort', stop);
    await session.close().catch(() => undefined);
  }
}

async function quantiles(client: pg.Client, req: PlanRequest): Promise<{ rows: number; boundaries: string[][] }> {
  const cols = req.key.map((k) => `s.${quoteIdent(k)}`);
  const texts = req.key.map((k, i) => `s.${quoteIdent(k)}::text AS k${i}`).join(', ');
  const from = req.table ? qualifiedTable(req.table) : `(\n${req.query}\n)`;
  const where = req.where ? ` WHERE (\n${req.where}\n)` : '';
  const ks = req.key.map((_, i) => `k${i}`).join(', ');
  // The last row of each tile in key order; `o…` keep the typed key, so "last" follows the key's own order.
  const sql =
    `SELECT DISTINCT ON (t) t, n::text, z::text, ${ks} FROM (` +
    `SELECT ntile(${req.shards}) OVER (ORDER BY ${cols.join(', ')}) AS t, count(*) OVER () AS n, ` +
    `bool_or(${cols.map((c) => `${c} IS NULL`).join(' OR ')}) OVER () AS z, ${texts}, ` +
    `${cols.map((c, i) => `${c} AS o${i}`).join(', ')} FROM ${from} s${where}` +
    `) x ORDER BY t, ${req.key.map((_, i) => `o${i} DESC`).join(', ')}`;
  const config = { text: sql, values: [], rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig;
  const res = await client.query<(string | null)[]>(config);
  const rows = Number(res.rows[0]?.[1] ?? 0);
  const boundaries = res.rows.slice(0, req.shards - 1).map((r) => r.slice(3));
  // `(key) > (…)` is never true for NULL: such rows would fall in no shard, so refuse as a run does.
  if (res.rows[0]?.[2] === 'true' || boundaries.some((b) => b.some((v) => v === null))) {
    throw new BulkImportError(
      'CONFIG',
      `--key ${req.key.join(',')}: some rows have a NULL key, which no shard would read; choose a NOT NULL key (or add --where "… IS NOT NULL")`,
    );
  }
  return { rows, boundaries: boundaries as string[][] };
}
