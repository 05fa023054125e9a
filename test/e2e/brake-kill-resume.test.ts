import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A run held by a Retry-After (every lane waits, issue 10), killed -9 during the hold, then
 * resumed: the hold stopped the whole run, the checkpoint caught up with everything delivered
 * before the kill, and the resume sends every missing row once.
 */
const ROWS = 20_000;
const BATCH = 100;
const CONCURRENCY = 8;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let ids: string[]; // the table's ids in key order

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, async (client) => {
    await seedListings(client, { table: schema.qualified('listings'), rows: ROWS });
    const res = await client.query<{ k: string }>(
      `SELECT id::text AS k FROM ${schema.qualified('listings')} ORDER BY id`,
    );
    ids = res.rows.map((r) => r.k);
  });
}, 180_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

describe('kill -9 while a Retry-After holds the run', () => {
  it('no lane sends during the hold; the resume sends every row once, re-sending none', async () => {
    await using dir = await tempDir();
    const ckpt = `${dir.path}/held.ckpt.json`;
    const stuck = ids[40 * BATCH + 5] as string; // well into the run: every lane is busy by then
    let refusedAt = 0;
    await using sink = await startHttpSink({
      latencyMs: 20,
      // The batch holding `stuck` is told, once, to come back in 30 s: the whole run waits.
      fault: ({ ids: got }) => {
        if (refusedAt || !got.includes(stuck)) return undefined;
        refusedAt = Date.now();
        return { status: 503, retryAfter: '30' };
      },
    });
    const args = [
      'run',
      '--from',
      db.url,
      '--table',
      schema.qualified('listings'),
      '--to',
      sink.url,
      '--batch-size',
      String(BATCH),
      '--concurrency',
      String(CONCURRENCY),
      '--checkpoint',
      ckpt,
      '--no-progress',
    ];
    const cli = startCli(args);
    for (const end = Date.now() + 60_000; !refusedAt && Date.now() < end; ) await sleep(5);
    expect(refusedAt).toBeGreaterThan(0);
    await sleep(1_500);
    cli.child.kill('SIGKILL');
    expect((await cli.done()).signal).toBe('SIGKILL');

    // The lanes were busy before the refusal and none sent after it (but what was on the wire).
    const arrivals = sink.requests.map((r) => r.at - refusedAt);
    expect(arrivals.filter((t) => t > -300 && t < 0).length).toBeGreaterThanOrEqual(CONCURRENCY);
    expect(arrivals.filter((t) => t > 250).map(Math.round)).toEqual([]);

    const c = JSON.parse(await readFile(ckpt, 'utf8'));
    const deliveredBeforeKill = sink.acceptedIds().length;
    expect(deliveredBeforeKill).toBeLessThan(ids.length);
    // Held for over a second before the kill: the checkpoint had caught up with every delivery.
    expect(c.rows.delivered).toBe(deliveredBeforeKill);
    // Past the refused batch, only the batches already in flight beside it (the other lanes).
    expect(c.ahead?.length ?? 0).toBeLessThanOrEqual(CONCURRENCY - 1);

    const done = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(done.code, done.stderr).toBe(0);
    const got = sink.acceptedIds();
    expect(new Set(got)).toEqual(new Set(ids));
    // Re-sent: nothing (the checkpoint held every delivery; the refused batch the API never took).
    expect(got.length - ids.length).toBe(0);
    expect(JSON.parse(await readFile(ckpt, 'utf8')).rows).toEqual({
      read: ids.length,
      delivered: ids.length,
      failed: 0,
      skipped: 0,
    });
  }, 180_000);
});
