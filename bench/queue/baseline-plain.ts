import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';

/**
 * The bar for `run --queue`: what a competent engineer writes in an afternoon. Keyset pages of
 * 1,000 rows rendered by PostgreSQL (row_to_json), packed into message bodies `{"rows":[…]}` of
 * at most 64 KiB, SendMessageBatch of 10 messages, 16 calls in flight; the next page is read
 * while calls are in flight. It counts its own payload and bills it as SQS does: every 64 KiB
 * of a call's payload is one request.
 *
 * usage: <database-url> <table> <sqs-endpoint> <queue-url> <rows>
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // the SDK's Node 20 warning
const [db, table, endpoint, queueUrl, rowsArg] = process.argv.slice(2);
const limit = Number(rowsArg);
if (!db || !table || !/^[a-z_][a-z0-9_]*$/.test(table) || !endpoint || !queueUrl || !(limit > 0)) {
  throw new Error('usage: <database-url> <table> <sqs-endpoint> <queue-url> <rows>');
}

const MESSAGE_BYTES = 65_536;
const CHUNK = 65_536;
const HEAD = '{"rows":[';
const TAIL = ']}';
const FRAME = Buffer.byteLength(HEAD) + Buffer.byteLength(TAIL);

const sqs = new SQSClient({
  region: 'us-east-1',
  endpoint,
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
});
const client = new pg.Client({ connectionString: db });
await client.connect();
await client.query(`SET DateStyle = ISO; SET TimeZone = 'UTC'`); // as bulk-import renders rows

let rows = 0;
let messages = 0;
let calls = 0;
let billed = 0;
let payloadBytes = 0;

const inFlight = new Set<Promise<void>>();
let failure: unknown;
async function send(bodies: { body: string; bytes: number; rows: number }[]): Promise<void> {
  while (inFlight.size >= 16) await Promise.race(inFlight);
  if (failure) throw failure;
  const bytes = bodies.reduce((n, b) => n + b.bytes, 0);
  calls++;
  billed += Math.ceil(bytes / CHUNK);
  payloadBytes += bytes;
  const p = sqs
    .send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.map((b, i) => ({ Id: String(i), MessageBody: b.body })),
      }),
    )
    .then((res) => {
      if (res.Failed?.length)
        throw new Error(`SendMessageBatch: ${res.Failed.length} entries failed (${res.Failed[0].Code})`);
      messages += bodies.length;
      for (const b of bodies) rows += b.rows;
    })
    .catch((err: unknown) => {
      failure ??= err;
    })
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
}

let parts: string[] = [];
let partBytes = 0;
let batch: { body: string; bytes: number; rows: number }[] = [];
async function seal(): Promise<void> {
  if (parts.length === 0) return;
  batch.push({
    body: `${HEAD}${parts.join(',')}${TAIL}`,
    bytes: FRAME + partBytes + parts.length - 1,
    rows: parts.length,
  });
  parts = [];
  partBytes = 0;
  if (batch.length === 10) {
    const full = batch;
    batch = [];
    await send(full);
  }
}

let last = '0';
for (let left = limit; left > 0; ) {
  const page = await client.query<{ id: string; j: string }>(
    // id is bigint: pg returns it as a string
    `SELECT t.id, row_to_json(t)::text AS j FROM ${table} t WHERE t.id > $1 ORDER BY t.id LIMIT $2`,
    [last, Math.min(1000, left)],
  );
  if (page.rows.length === 0) break;
  left -= page.rows.length;
  last = page.rows[page.rows.length - 1].id;
  for (const r of page.rows) {
    const bytes = Buffer.byteLength(r.j, 'utf8');
    if (parts.length > 0 && FRAME + partBytes + parts.length + bytes > MESSAGE_BYTES) await seal();
    parts.push(r.j);
    partBytes += bytes;
  }
}
await seal();
if (batch.length > 0) await send(batch);
await Promise.all(inFlight);
await client.end();
sqs.destroy();
if (failure) throw failure;
process.stdout.write(`${JSON.stringify({ rows, messages, calls, billed, payloadBytes })}\n`);
