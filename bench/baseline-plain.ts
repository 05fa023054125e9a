import pg from 'pg';
import { Pool } from 'undici';
import { baselineArgs, keysetPages } from './keyset-pages.js';

/**
 * A competent plain script, the bar bulk-import has to clear: keyset pages of 1,000 row objects,
 * JSON.stringify per batch of 100, an undici Pool with keep-alive and 16 requests in flight.
 * The window spans pages, so the next page is read while the last batches are still in flight.
 */
const { db, table, to, rows } = baselineArgs(process.argv);
const target = new URL(to);
const pool = new Pool(target.origin, { connections: 16 });
const client = new pg.Client({ connectionString: db });
await client.connect();

const inFlight = new Set<Promise<void>>();
let sent = 0;
let requests = 0;
for await (const page of keysetPages(client, table, 1000, rows)) {
  for (let i = 0; i < page.length; i += 100) {
    while (inFlight.size >= 16) await Promise.race(inFlight);
    const batch = page.slice(i, i + 100);
    const p = post(JSON.stringify(batch)).then(() => {
      sent += batch.length;
      requests++;
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
}
await Promise.all(inFlight);
await client.end();
await pool.close();
process.stdout.write(`${JSON.stringify({ rows: sent, requests })}\n`);

async function post(body: string): Promise<void> {
  const res = await pool.request({
    path: target.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
}
