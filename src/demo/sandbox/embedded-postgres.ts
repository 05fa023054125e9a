import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgresOptions {
  /** A directory to keep the database in; in memory (gone at stop) when omitted. */
  readonly dataDir?: string;
  /**
   * Sockets open at once (default 8). One more is dropped by the listener, which a `pg` client
   * sees as "Connection terminated unexpectedly", so size it for every client and pool slot.
   */
  readonly maxConnections?: number;
}

export interface EmbeddedPostgres extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`; any user, password or database name works. */
  readonly url: string;
  /** Closes the listener, every connection still open, then the database. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * PostgreSQL without installing PostgreSQL: pglite (PostgreSQL compiled to WebAssembly) behind
 * pglite-socket, which speaks the wire protocol on a TCP port, so the product's ordinary `pg`
 * code connects to it exactly as to a real server.
 *
 * It is one backend shared by every connection, and that shows:
 * - connections take turns: one query (or one open transaction) runs at a time, and it runs on
 *   this process's thread, so timers and sockets here wait until it is done;
 * - session state is shared and outlives connections: a `SET` on one applies to all, a temp
 *   table is everyone's, `pg_backend_pid()` is the same;
 * - startup parameters (user, database, application_name, options) are ignored, there is no
 *   SSL, cancel requests are ignored and `statement_timeout` never fires;
 * - `pg_class.reltuples` stays -1 until an explicit ANALYZE (there is no autovacuum).
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(opts.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: opts.maxConnections ?? 8 });
  let port = 0;
  // The server learns its OS-assigned port when listening starts and reports it in this event.
  server.addEventListener('listening', (event) => {
    port = (event as CustomEvent<{ port: number }>).detail.port;
  });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  if (!port) {
    await server.stop().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw new Error('embedded PostgreSQL: the socket server did not report its port');
  }

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      try {
        // Resolves once every client socket is closed: the server ends them itself.
        await server.stop();
      } finally {
        // Closing pglite after the sockets means no query runs against a closed database.
        await db.close();
      }
    })());
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, [Symbol.asyncDispose]: stop };
}
