/**
 * Runs the embedded PostgreSQL in a process of its own. pglite executes queries on the thread
 * of the process that hosts it, so hosting it beside the importer or the API would make them
 * take turns; a child process behaves like a real server next door.
 *
 * Protocol: argv[2] = rows to seed into `listings`; prints one JSON line {url, rows, seedMs}
 * once ready; stops when its stdin closes (the parent exited, however it exited) or on SIGTERM.
 */
import pg from 'pg';
import { startEmbeddedPostgres } from './sandbox/embedded-postgres.js';
import { seedListings } from './sandbox/seed.js';

const rows = Number(process.argv[2] ?? '0');
const db = await startEmbeddedPostgres({ maxConnections: 16 });
const started = Date.now();
if (rows > 0) {
  const client = new pg.Client(db.url);
  await client.connect();
  try {
    await seedListings(client, { table: 'listings', rows });
  } finally {
    await client.end();
  }
}
process.stdout.write(`${JSON.stringify({ url: db.url, rows, seedMs: Date.now() - started })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await db.stop().catch(() => undefined);
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', () => undefined); // the parent decides when to stop; Ctrl-C reaches both
