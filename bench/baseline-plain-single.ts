import pg from 'pg';
import { Pool } from 'undici';
import { baselineArgs, keysetPages } from './keyset-pages.js';

/**
 * The plain script for an API that takes one entity per POST: keyset pages of 1,000 row
 * objects, each row JSON.stringify'd into its own request through an undici Pool (keep-alive,
 * one connection per request in flight), no cookies. `[in-flight]` after the common arguments
 * (default 32, bulk-import's batch-1 concurrency in the bench). The window spans pages: the
 * next page is read while the last rows of this one are in flight. A counter and one waiter
 * gate the window (not Promise.race over the set in flight, which costs O(in-flight) a request).
 */
const { db, table, to, rows } = baselineArgs(process.argv);
const inFlightMax = Number(process.argv[6] ?? 32);
if (!Number.isInteger(inFlightMax) || inFlightMax < 1) throw new Error('usage: … [in-flight ≥ 1]');
const target = new URL(to);
const pool = new Pool(target.origin, { connections: inFlightMax });
const client = new pg.Client({ connectionString: db });
await client.connect();

let inFlight = 0;
let sent = 0;
let failure: unknown;
let wake: (() => void) | undefined;
const settled = () => {
  inFlight--;
  const w = wake;
  wake = undefined;
  w?.();
};
const room = () =>
  new Promise<void>((resolve) => {
    wake = resolve;
  });

for await (const page of keysetPages(client, table, 1000, rows)) {
  for (const row of page) {
    while (inFlight >= inFlightMax) await room();
    if (failure) throw failure;
    inFlight++;
    post(JSON.stringify(row)).then(
      () => {
        sent++;
        settled();
      },
      (err: unknown) => {
        failure ??= err;
        settled();
      },
    );
  }
}
while (inFlight > 0) await room();
if (failure) throw failure;
await client.end();
await pool.close();
process.stdout.write(`${JSON.stringify({ rows: sent, requests: sent })}\n`);

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
