import pg from 'pg';
import type { Batch, KeyTuple, Source } from '../types.js';
import { BulkImportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { LazyBatch, idempotencyKeyFor } from './batch.js';
import { copyOut, quoteLiteral } from './copy-out.js';
import { connectPostgres, wrapPgError } from './postgres-connect.js';
import { quoteIdent, qualifiedTable } from './sql.js';

export interface PostgresSourceConfig {
  readonly url: string;
  /** Exactly one of table and query. */
  readonly table?: string;
  readonly query?: string;
  readonly key: readonly string[];
  readonly where?: string;
  readonly limit?: number;
  readonly batchSize: number;
  /** Rows per page; rounded up to a whole number of batches so batch cuts never depend on it. */
  readonly pageRows: number;
  readonly jobId: string;
}

/**
 * Keyset paging: `WHERE (key) > ($last) ORDER BY key LIMIT page`, one short statement per page
 * and never a long transaction, because the monolith is in production.
 *
 * The server renders each row with `row_to_json` and glues each batch's rows into one JSON array
 * (`string_agg`), read by binary COPY: a page of 2,000 rows arrives as 20 byte buffers that are
 * sent as they are, never parsed, re-stringified or even decoded. Key values come back as
 * PostgreSQL's own text and go back as text (parameters or quoted literals) that the server
 * casts to the column type: no JS Number or Date ever holds one.
 */
export class PostgresKeysetSource implements Source {
  readonly describe: string;
  #client: pg.Client | undefined;
  readonly #pageRows: number;

  constructor(private readonly config: PostgresSourceConfig) {
    const what = config.table ? `table ${config.table}` : 'query';
    this.describe = `${redactUrl(config.url)} ${what} by (${config.key.join(', ')})`;
    this.#pageRows = Math.ceil(config.pageRows / config.batchSize) * config.batchSize;
  }

  /**
   * Connects and checks that the table and key columns exist, so a typo fails before any send,
   * and that no key is NULL: `(key) > ($last)` is never true for NULL, so such rows would be
   * skipped without a word. The NULL check scans only when a key column is nullable.
   */
  async open(): Promise<void> {
    this.#client = await connectPostgres(this.config.url);
    try {
      const probe = await this.#client.query(`SELECT ${this.#keyList('t')} FROM ${this.#from()} t LIMIT 0`);
      if (await this.#mayHoldNulls(probe.fields.map((f) => ({ table: f.tableID, column: f.columnID })))) {
        const anyNull = this.config.key.map((k) => `t.${quoteIdent(k)} IS NULL`).join(' OR ');
        const where = this.config.where ? ` AND (${this.config.where})` : '';
        const found = await this.#client.query({ text: `SELECT 1 FROM ${this.#from()} t WHERE (${anyNull})${where} LIMIT 1`, rowMode: 'array' });
        if (found.rows.length > 0) {
          throw new BulkImportError('CONFIG', `--key ${this.config.key.join(',')}: some rows have a NULL key, which keyset paging would skip; choose a NOT NULL key (or add --where "… IS NOT NULL")`);
        }
      }
    } catch (err) {
      throw wrapPgError(err, this.config);
    }
  }

  /** True unless every key column is a table column declared NOT NULL (as a primary key is). */
  async #mayHoldNulls(cols: { table: number; column: number }[]): Promise<boolean> {
    if (cols.some((c) => !c.table)) return true; // an expression of a --query: cannot tell
    const res = await (this.#client as pg.Client).query({
      text: `SELECT bool_and(attnotnull) FROM pg_attribute a JOIN unnest($1::oid[], $2::int2[]) AS c(rel, num) ON a.attrelid = c.rel AND a.attnum = c.num`,
      values: [`{${cols.map((c) => c.table).join(',')}}`, `{${cols.map((c) => c.column).join(',')}}`],
      rowMode: 'array',
    });
    return res.rows[0]?.[0] !== 't';
  }

  async estimateTotal(): Promise<number | null> {
    const { table, where, limit, url } = this.config;
    let estimate: number | null = null;
    const client = await connectPostgres(url).catch(() => null);
    if (!client) return limit ?? null;
    try {
      await client.query(`SET statement_timeout = 5000`);
      const sql = `SELECT count(*)::text FROM ${this.#from()} s${where ? ` WHERE ${where}` : ''}`;
      const planned = table && !where ? await reltuples(client, table) : null;
      // A big table without a filter: the planner's estimate is instant and good enough for an ETA.
      if (planned !== null && planned > 1_000_000) estimate = planned;
      else estimate = Number((await client.query({ text: sql, rowMode: 'array' })).rows[0][0]);
    } catch {
      estimate = null;
    } finally {
      await client.end().catch(() => undefined);
    }
    if (limit !== undefined) return estimate === null ? limit : Math.min(limit, estimate);
    return estimate;
  }

  async *batches(from: { after?: KeyTuple; limit?: number; signal: AbortSignal }): AsyncIterable<Batch> {
    const client = this.#client ?? (await this.#openAndGet());
    let after = from.after;
    let remaining = from.limit ?? this.config.limit ?? Number.POSITIVE_INFINITY;
    let seq = 0;
    let next: Promise<LazyBatch[]> | null = remaining > 0 ? this.#page(client, after, remaining, seq) : null;
    while (next && !from.signal.aborted) {
      const page = await next;
      const rows = page.reduce((n, b) => n + b.count, 0);
      remaining -= rows;
      seq += page.length;
      const last = page.at(-1);
      after = last?.lastKey;
      // Prefetch: the next page is on its way while this one's batches are being sent.
      next = last && rows === this.#pageRows && remaining > 0 ? this.#page(client, after, remaining, seq) : null;
      next?.catch(() => undefined); // surfaced when awaited; never an unhandled rejection meanwhile
      for (const batch of page) yield batch;
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  async #openAndGet(): Promise<pg.Client> {
    await this.open();
    return this.#client as pg.Client;
  }

  #from(): string {
    const { table, query } = this.config;
    return table ? qualifiedTable(table) : `(${query})`;
  }

  #keyList(alias: string): string {
    return this.config.key.map((k) => `${alias}.${quoteIdent(k)}`).join(', ');
  }

  async #page(client: pg.Client, after: KeyTuple | undefined, remaining: number, seq0: number): Promise<LazyBatch[]> {
    const { key, jobId } = this.config;
    const keyCols = key.map((k, i) => `t.${quoteIdent(k)}::text AS k${i}`).join(', ');
    if (this.config.batchSize === 1) {
      const sql = `SELECT row_to_json(t.*)::text AS j, ${keyCols} FROM (${this.#inner(after, remaining, 'param')}) t`;
      const result = await this.#query(() => client.query<string[]>({ text: sql, values: after ? [...after] : [], rowMode: 'array' }));
      // One row, one batch: its key is both ends of the range.
      return result.rows.map((r, i) => {
        const k = r.slice(1) as string[];
        return new LazyBatch(seq0 + i, 1, k, k, idempotencyKeyFor(jobId, k, k), { rows: [r[0] as string] });
      });
    }
    const rows = await this.#query(() => copyOut(client, this.#batchedSql(this.#inner(after, remaining, 'literal'), keyCols)));
    return rows.map((r, i) => {
      const text = (f: Buffer | null | undefined) => (f ? f.toString('utf8') : '');
      const firstKey = key.map((_, k) => text(r[2 + 2 * k]));
      const lastKey = key.map((_, k) => text(r[3 + 2 * k]));
      return new LazyBatch(seq0 + i, Number(text(r[1])), firstKey, lastKey, idempotencyKeyFor(jobId, firstKey, lastKey), { bytes: r[0] as Buffer });
    });
  }

  /**
   * One page of the table in key order, after the watermark. The watermark goes in as bind
   * parameters, or (for COPY, which takes none) as quoted literals; either way it stays text
   * and the server casts it to the key's type.
   */
  #inner(after: KeyTuple | undefined, remaining: number, values: 'param' | 'literal'): string {
    const { where } = this.config;
    const conds: string[] = [];
    if (after) {
      const given = after.map((v, i) => (values === 'param' ? `$${i + 1}` : quoteLiteral(v)));
      conds.push(`(${this.#keyList('s')}) > (${given.join(', ')})`);
    }
    if (where) conds.push(`(${where})`);
    return (
      `SELECT s.* FROM ${this.#from()} s${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}` +
      ` ORDER BY ${this.#keyList('s')} LIMIT ${Math.min(this.#pageRows, remaining)}`
    );
  }

  async #query<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw wrapPgError(err, this.config, 'mid-run');
    }
  }

  /** Rows numbered in key order and glued into one JSON array per batch, with each batch's first and last key. */
  #batchedSql(inner: string, keyCols: string): string {
    const { key, batchSize } = this.config;
    const firstLast = key.map((_, i) => `(array_agg(k${i} ORDER BY n))[1], (array_agg(k${i} ORDER BY n DESC))[1]`).join(', ');
    return (
      `SELECT '[' || string_agg(j, ',' ORDER BY n) || ']', count(*)::text, ${firstLast} FROM (` +
      `SELECT row_to_json(t.*)::text AS j, ${keyCols}, row_number() OVER (ORDER BY ${this.#keyList('t')}) AS n` +
      ` FROM (${inner}) t) x GROUP BY (n - 1) / ${batchSize} ORDER BY (n - 1) / ${batchSize}`
    );
  }
}

async function reltuples(client: pg.Client, table: string): Promise<number | null> {
  const res = await client.query({ text: `SELECT reltuples::bigint::text FROM pg_class WHERE oid = $1::regclass`, values: [qualifiedTable(table)], rowMode: 'array' });
  const n = Number(res.rows[0]?.[0]);
  return Number.isFinite(n) && n >= 0 ? n : null;
}
