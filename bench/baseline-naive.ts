import { request } from 'node:http';
import pg from 'pg';
import { baselineArgs, keysetPages } from './keyset-pages.js';

/**
 * The client from the story: one row per request, ten at a time, and a new TCP connection for
 * every request (node:http with `agent: false`, so no keep-alive). Rows are read as objects and
 * stringified one by one. It stops at the first non-2xx answer, as such a script would.
 */
const { db, table, to, rows } = baselineArgs(process.argv);
const target = new URL(to);
const client = new pg.Client({ connectionString: db });
await client.connect();

let sent = 0;
for await (const page of keysetPages(client, table, 1000, rows)) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < page.length) {
      const row = page[next++];
      await post(JSON.stringify(row));
      sent++;
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
}
await client.end();
process.stdout.write(`${JSON.stringify({ rows: sent, requests: sent })}\n`);

function post(body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode && res.statusCode < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
