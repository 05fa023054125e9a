import type pg from 'pg';
import type { Batch, KeyTuple, Source } from '../types.js';
import { BulkImportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { LazyBatch, idempotencyKeyFor } from './batch.js';
import { copyOutPacked, type PackedRows, quoteLiteral } from './copy-out.js';
import { wrapPgError } from './postgres-connect.js';
import { ReadOnlySession, ReadStopped } from './read-only-session.js';
import { quoteIdent, qualifiedTable } from './sql.js';

export interface PostgresSourceConfig {
  readonly url: string;
  /** Exactly one of table and query. */
  readonly table?: string;
  readonly query?: string;
  readonly key: readonly string[];
  readonly where?: string;
  readonly batchSize: number;
  /** Rows per page; rounded up to a whole number of batches so batch cuts never depend on it. */
  readonly pageRows: number;
  readonly jobId: string;
  /** Bounds each statement: a page read, the probe, the count (which also stops at 5 s). */
  readonly statementTimeoutMs: number;
}

/** The count behind the progress bar's ETA is a nicety: it never waits long. */
const COUNT_TIMEOUT_MS = 5000;
/** Released page buffers kept for reuse: the pages in flight at once are a handful. */
const PAGE_POOL = 4;

/**
 * Keyset paging: `WHERE (key) > ($last) ORDER BY key LIMIT page`, one short statement per page
 * and never a long transaction, because the monolith is in production.
 *
 * The server renders each row with `row_to_json`, read by binary COPY as UTF-8 bytes that are
 * packed into one buffer per page as they arrive, each batch's rows already glued into its JSON
 * array (see PackedRows): the bytes are sent as they are, never parsed, re-stringified or even
 * decoded. Key values come back as PostgreSQL's own text and go back as text (quoted literals)
 * that the server casts to the column type: no JS Number or Date ever holds one.
 */
export class PostgresKeysetSource implements Source {
  readonly describe: string;
  #session: ReadOnlySession | undefined;
  /** estimateTotal's own connection, ended by close() even while it counts. */
  #counter: ReadOnlySession | undefined;
  #closed = false;
  readonly #pageRows: number;
  /** The largest page read so far, in bytes, to size the next one's buffer. */
  #lastPageBytes = 64 * 1024;
  /**
   * Body buffers of pages whose batches the sink has all released (queue mode does, at each
   * batch's receipt): the next pages are read into them. A ~1.1 MB buffer per 2,000 rows, freed
   * only by a full collection, was the rest of queue mode's peak RSS, and it rose with the run's
   * length (102–109 MB at 1M rows, 126–140 MB at 5M) as collections came late on a busy machine.
   */
  readonly #pagePool: Buffer[] = [];

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
  async open(signal?: AbortSignal): Promise<void> {
    const session = await ReadOnlySession.open(this.config.url, this.config.statementTimeoutMs);
    this.#session = session;
    // A NULL check on a big table can take a while: a stop cancels it (and every read after it).
    const stop = () => session.cancel();
    if (signal?.aborted) stop();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      await session.read(async (client) => {
        // The WHERE is in the probe too, so a --where that does not compile fails here, before any send.
        const probe = await ask(client, `SELECT ${this.#keyList('s')} FROM ${this.#from()} s${this.#where()} LIMIT 0`);
        if (
          await mayHoldNulls(
            client,
            probe.fields.map((f) => ({ table: f.tableID, column: f.columnID })),
          )
        ) {
          const anyNull = this.config.key.map((k) => `s.${quoteIdent(k)} IS NULL`).join(' OR ');
          const where = this.config.where ? ` AND ${fragment(this.config.where)}` : '';
          const found = await ask(client, `SELECT 1 FROM ${this.#from()} s WHERE (${anyNull})${where} LIMIT 1`);
          if (found.rows.length > 0) {
            throw new BulkImportError(
              'CONFIG',
              `--key ${this.config.key.join(',')}: some rows have a NULL key, which keyset paging would skip; choose a NOT NULL key (or add --where "… IS NOT NULL")`,
            );
          }
        }
      }, 'checking the table and key');
    } catch (err) {
      if (err instanceof ReadStopped) return; // stopped: batches() reads nothing, the run ends as interrupted
      if (err instanceof BulkImportError && err.code === 'SOURCE_FAILED')
        throw new BulkImportError('CONFIG', err.message, { cause: err });
      throw wrapPgError(err, this.config);
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  async estimateTotal(): Promise<number | null> {
    const { table, where, url } = this.config;
    let estimate: number | null = null;
    const counter = await ReadOnlySession.open(url, this.config.statementTimeoutMs).catch(() => null);
    if (!counter) return null;
    if (this.#closed) {
      await counter.close(); // the run ended while this was connecting
      return null;
    }
    this.#counter = counter;
    try {
      const sql = `SELECT count(*)::text FROM ${this.#from()} s${this.#where()}`;
      estimate = await counter.read(
        async (client) => {
          const planned = table && !where ? await reltuples(client, table) : null;
          // A big table without a filter: the planner's estimate is instant and good enough for an ETA.
          if (planned !== null && planned > 1_000_000) return planned;
          return Number((await ask(client, sql)).rows[0]?.[0]);
        },
        'counting the rows',
        Math.min(COUNT_TIMEOUT_MS, this.config.statementTimeoutMs),
      );
    } catch {
      estimate = null;
    } finally {
      this.#counter = undefined;
      await counter.close();
    }
    return estimate;
  }

  async *batches(from: { after?: KeyTuple; limit?: number; signal: AbortSignal }): AsyncIterable<Batch> {
    const session = this.#session ?? (await this.#openAndGet());
    // A stop cancels the statement running now (a prefetched page, or one the sink waits for).
    const stop = () => session.cancel();
    if (from.signal.aborted) stop();
    from.signal.addEventListener('abort', stop, { once: true });
    let after = from.after;
    let remaining = from.limit ?? Number.POSITIVE_INFINITY;
    let seq = 0;
    let next: Promise<Page> | null = remaining > 0 ? this.#page(session, after, remaining, seq) : null;
    try {
      while (next && !from.signal.aborted) {
        let page: Page;
        try {
          page = await next;
        } catch (err) {
          if (err instanceof ReadStopped) return; // stopped mid-read: nothing of that page was yielded
          throw err;
        }
        remaining -= page.rows;
        seq += page.size;
        after = page.lastKey;
        // Prefetch: the next page is on its way while this one's batches are being sent.
        next =
          page.size > 0 && page.rows === this.#pageRows && remaining > 0
            ? this.#page(session, after, remaining, seq)
            : null;
        next?.catch(() => undefined); // surfaced when awaited; never an unhandled rejection meanwhile
        for (let i = 0; i < page.size; i++) yield page.batch(i);
      }
    } finally {
      from.signal.removeEventListener('abort', stop);
    }
  }

  /** Cancels whatever still runs (a prefetched page, the count) and ends both connections. */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [this.#session, this.#counter];
    this.#session = undefined;
    await Promise.all(sessions.map((s) => s?.close().catch(() => undefined)));
  }

  async #openAndGet(): Promise<ReadOnlySession> {
    await this.open();
    return this.#session as ReadOnlySession;
  }

  /** Users' SQL goes in on lines of its own, so a trailing `--` comment cannot hide the tool's text. */
  #from(): string {
    const { table, query } = this.config;
    return table ? qualifiedTable(table) : fragment(query as string);
  }

  #where(): string {
    return this.config.where ? ` WHERE ${fragment(this.config.where)}` : '';
  }

  #keyList(alias: string): string {
    return this.config.key.map((k) => `${alias}.${quoteIdent(k)}`).join(', ');
  }

  /**
   * One page, read by COPY as one JSON text and the key text per row, packed into buffers (see
   * PackedRows): at batch size 1 each row is a batch, at more the rows are glued into each
   * batch's JSON array as they arrive. Batches are cut every `batchSize` rows of the page
   * (a page is a whole number of batches), so the same watermark always cuts the same batches.
   */
  async #page(session: ReadOnlySession, after: KeyTuple | undefined, remaining: number, seq0: number): Promise<Page> {
    const { key, jobId, batchSize } = this.config;
    const keyCols = key.map((k, i) => `t.${quoteIdent(k)}::text AS k${i}`).join(', ');
    const sql = `SELECT row_to_json(t.*)::text AS j, ${keyCols} FROM (${this.#inner(after, remaining)}) t`;
    const expect = { rows: Math.min(this.#pageRows, remaining), bytes: Math.ceil(this.#lastPageBytes * 1.1) };
    const reuse = this.#pagePool.pop();
    const rows = await this.#query(session, (client) =>
      copyOutPacked(client, sql, 1 + key.length, expect, batchSize, reuse),
    );
    this.#lastPageBytes = Math.max(this.#lastPageBytes, rows.bytesUsed);
    const recycle = (body: Buffer) => {
      if (this.#pagePool.length < PAGE_POOL) this.#pagePool.push(body);
    };
    return new PackedPage(rows, key.length, batchSize, seq0, jobId, recycle);
  }

  /**
   * One page of the table in key order, after the watermark. The watermark goes in as quoted
   * literals (every page is read by COPY, which takes no bind parameters): it stays text and the
   * server casts it to the key's type.
   */
  #inner(after: KeyTuple | undefined, remaining: number): string {
    const { where } = this.config;
    const conds: string[] = [];
    if (after) {
      const given = after.map(quoteLiteral);
      conds.push(`(${this.#keyList('s')}) > (${given.join(', ')})`);
    }
    if (where) conds.push(fragment(where));
    return (
      `SELECT s.* FROM ${this.#from()} s${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}` +
      ` ORDER BY ${this.#keyList('s')} LIMIT ${Math.min(this.#pageRows, remaining)}`
    );
  }

  async #query<T>(session: ReadOnlySession, run: (client: pg.Client) => Promise<T>): Promise<T> {
    try {
      return await session.read(run, 'a page read');
    } catch (err) {
      if (err instanceof ReadStopped) throw err;
      throw wrapPgError(err, this.config, 'mid-run');
    }
  }
}

/** One page read: how many batches and rows, the last key, and each batch as it is pulled. */
interface Page {
  readonly size: number;
  readonly rows: number;
  readonly lastKey: KeyTuple | undefined;
  batch(i: number): LazyBatch;
}

/**
 * A page of rows kept as bytes (see PackedRows) until each batch is pulled, when it is made: its
 * JSON (the row itself at batch size 1, else the glued array) as a view into the page, its first
 * and last keys as text. A batch then lives as long as its request, and dies young.
 */
class PackedPage implements Page {
  #released = 0;
  readonly size: number;
  readonly rows: number;
  readonly lastKey: KeyTuple | undefined;

  constructor(
    private readonly packed: PackedRows,
    private readonly keys: number,
    private readonly batchSize: number,
    private readonly seq0: number,
    private readonly jobId: string,
    private readonly recycle: (body: Buffer) => void,
  ) {
    this.rows = packed.length;
    this.size = Math.ceil(packed.length / batchSize);
    this.lastKey = packed.length > 0 ? this.#key(packed.length - 1) : undefined;
  }

  batch(i: number): LazyBatch {
    const first = i * this.batchSize;
    const last = Math.min(this.rows, first + this.batchSize) - 1;
    const firstKey = this.#key(first);
    const lastKey = last === first ? firstKey : this.#key(last);
    const key = idempotencyKeyFor(this.jobId, firstKey, lastKey);
    const content =
      this.batchSize === 1 ? { single: this.packed.json(first) } : { bytes: this.packed.array(first, last) };
    // The page's buffer is reused once every one of its batches has been released.
    return new LazyBatch(this.seq0 + i, last - first + 1, firstKey, lastKey, key, content).recycledBy(() => {
      if (++this.#released === this.size) this.recycle(this.packed.bodyBuffer);
    });
  }

  #key(row: number): string[] {
    const k: string[] = new Array(this.keys);
    for (let c = 0; c < this.keys; c++) k[c] = this.packed.text(row, 1 + c);
    return k;
  }
}

/**
 * Every statement goes out by the extended protocol, even without parameters: the server
 * parses its text as exactly one statement and refuses a second one (42601).
 */
function ask(client: pg.Client, text: string, values: string[] = []): Promise<pg.QueryArrayResult<string[]>> {
  return client.query<string[]>({ text, values, rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
}

/** A user's SQL text in brackets, on lines of its own (see #from). */
function fragment(sql: string): string {
  return `(\n${sql}\n)`;
}

/** True unless every key column is a table column declared NOT NULL (as a primary key is). */
async function mayHoldNulls(client: pg.Client, cols: { table: number; column: number }[]): Promise<boolean> {
  if (cols.some((c) => !c.table)) return true; // an expression of a --query: cannot tell
  const res = await ask(
    client,
    `SELECT bool_and(attnotnull) FROM pg_attribute a JOIN unnest($1::oid[], $2::int2[]) AS c(rel, num) ON a.attrelid = c.rel AND a.attnum = c.num`,
    [`{${cols.map((c) => c.table).join(',')}}`, `{${cols.map((c) => c.column).join(',')}}`],
  );
  return res.rows[0]?.[0] !== 't';
}

async function reltuples(client: pg.Client, table: string): Promise<number | null> {
  const res = await ask(client, `SELECT reltuples::bigint::text FROM pg_class WHERE oid = $1::regclass`, [
    qualifiedTable(table),
  ]);
  const n = Number(res.rows[0]?.[0]);
  return Number.isFinite(n) && n >= 0 ? n : null;
}
