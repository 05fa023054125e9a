import { connect as netConnect } from 'node:net';
import type pg from 'pg';
import { BulkImportError, errorCode } from '../errors.js';
import { connectPostgres, formatMs } from './postgres-connect.js';

/** What pg keeps about a connection that a cancel request needs (not in pg's typings). */
interface CancelKeys {
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
}

/** Thrown by a read that a stop cancelled: the caller ends quietly, it is not a failure. */
export class ReadStopped extends Error {
  override readonly name = 'ReadStopped';
}

const CANCEL_TRIES = 5;
const CANCEL_EVERY_MS = 1000;
const CLOSE_GRACE_MS = 2000;

/**
 * One connection to the monolith that can only read, and whose reads can be stopped.
 *
 * Read-only twice over: the session starts with default_transaction_read_only (startup
 * `options`, see postgres-connect.ts), and every read runs in its own `BEGIN READ ONLY`
 * transaction. The second matters because SQL in `--where` can call
 * `set_config('default_transaction_read_only', 'off', false)` and so make the *next* statement
 * writable; a transaction declared READ ONLY cannot be made writable once it has run a query.
 * The embedded pglite server ignores startup options and shares one session among all its
 * clients (a session-wide SET would leak into them), so there the explicit transactions alone
 * carry the guarantee. Each transaction also gets `SET LOCAL statement_timeout`.
 *
 * Stopping: cancel() sends PostgreSQL's CancelRequest (a second connection naming this
 * backend's process id and secret key), again every second while the read is still running,
 * because a cancel that arrives between two statements is dropped by the server. A read still
 * running after five tries (a pooler that routes the cancel elsewhere, pglite that ignores it)
 * has its connection cut, so a stop always ends; the statement timeout ends it on the server.
 */
export class ReadOnlySession {
  #busy = 0;
  #stopping = false;
  #idle: (() => void)[] = [];

  private constructor(
    readonly client: pg.Client,
    readonly statementTimeoutMs: number,
  ) {}

  static async open(url: string, statementTimeoutMs: number): Promise<ReadOnlySession> {
    return new ReadOnlySession(await connectPostgres(url, { statementTimeoutMs }), statementTimeoutMs);
  }

  /** True once cancel() or close() was called: no new statement starts. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Runs `fn` in one READ ONLY transaction bounded by `timeoutMs` per statement. A read that
   * a stop cancelled throws ReadStopped; one that hit the timeout throws a clear error.
   */
  async read<T>(fn: (client: pg.Client) => Promise<T>, what: string, timeoutMs = this.statementTimeoutMs): Promise<T> {
    if (this.#stopping) throw new ReadStopped();
    this.#busy++;
    try {
      // Our own constant text: two statements in one simple-protocol message saves a round trip.
      await this.client.query(`BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${Math.round(timeoutMs)}`);
      if (this.#stopping) throw new ReadStopped();
      const result = await fn(this.client);
      await this.client.query('COMMIT');
      return result;
    } catch (err) {
      // Also when BEGIN's message failed half-way; with no transaction open it is a no-op.
      await this.client.query('ROLLBACK').catch(() => undefined);
      // After a stop, whatever ended the read (the cancel, or the cut connection) is the stop.
      if (this.#stopping) throw new ReadStopped();
      if (errorCode(err) === '57014') {
        const limit = formatMs(timeoutMs);
        throw new BulkImportError(
          'SOURCE_FAILED',
          `${what} exceeded --statement-timeout (${limit}): raise it, or narrow --where`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      if (--this.#busy === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Stops what runs now and anything after it; safe to call more than once. */
  cancel(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    let tries = 0;
    const again = () => {
      if (this.#busy === 0) return;
      if (tries++ >= CANCEL_TRIES) return this.#cut(); // the cancels went nowhere (a pooler, pglite)
      sendCancelRequest(this.client as unknown as CancelKeys);
      setTimeout(again, CANCEL_EVERY_MS).unref();
    };
    again();
  }

  /** Ends the connection from this side: the read fails at once, whatever the server does. */
  #cut(): void {
    (this.client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }

  /**
   * Cancels a running read, waits a little for it to end, then ends the connection. A server
   * that ignores the cancel (pglite) or a dead network never holds the process: after the
   * grace period the socket is destroyed.
   */
  async close(): Promise<void> {
    this.cancel();
    if (this.#busy > 0) await this.#settled(CLOSE_GRACE_MS);
    const ended = this.client.end().then(
      () => true,
      () => true,
    );
    const inTime = await Promise.race([ended, delay(this.#busy > 0 ? 0 : CLOSE_GRACE_MS).then(() => false)]);
    if (!inTime) this.#cut();
  }

  #settled(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * The protocol's CancelRequest: a 16-byte packet on a fresh connection, no login needed. The
 * server answers by closing the connection; whether the statement stopped shows on the
 * cancelled connection (SQLSTATE 57014). Failures are ignored: the caller retries, and the
 * statement timeout bounds the read anyway.
 */
function sendCancelRequest(keys: CancelKeys): void {
  if (keys.processID === null || keys.secretKey === null) return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4); // the CancelRequest code: 1234 << 16 | 5678
  packet.writeInt32BE(keys.processID, 8);
  packet.writeInt32BE(keys.secretKey, 12);
  const unixSocket = keys.host.startsWith('/');
  const where = unixSocket ? { path: `${keys.host}/.s.PGSQL.${keys.port}` } : { host: keys.host, port: keys.port };
  const socket = netConnect(where, () => socket.end(packet));
  socket.setTimeout(CLOSE_GRACE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.unref();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
