import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { runCli, startCli } from '../helpers/cli.js';
import { range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

const ROWS = 200_000;
const BATCH = 100;
const CONCURRENCY = 8;
const KILLS = 4;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, async (client) => {
    await seedListings(client, { table: schema.qualified('listings'), rows: ROWS });
  });
}, 180_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

describe('kill -9 at random points, then --resume', () => {
  it('delivers every id; re-sent rows stay within what was in flight or not yet checkpointed', async () => {
    await using dir = await tempDir();
    const ckpt = `${dir.path}/listings.ckpt.json`;
    // A slow API (20 ms a request) so every kill lands mid-run, not after it.
    await using sink = await startHttpSink({ latencyMs: 20, record: 'ids' });
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
    let worstResent = 0;
    let worstBound = 0;
    let unaccounted = 0; // rows at the sink that no checkpoint accounts for (re-sent ones included)
    for (let kill = 0; kill < KILLS; kill++) {
      const cli = startCli(kill === 0 ? args : [...args, '--resume']);
      // Kill at a random point once rows flow; sample the sink meanwhile, to know its peak rate.
      const rowsBefore = sink.counts.rows;
      for (const end = Date.now() + 30_000; sink.counts.rows === rowsBefore && Date.now() < end; ) await sleep(10);
      const killAt = Date.now() + 100 + Math.random() * 600;
      let peakRate = 0;
      for (let last = sink.counts.rows, t = Date.now(); Date.now() < killAt; ) {
        await sleep(100);
        const now = Date.now();
        peakRate = Math.max(peakRate, ((sink.counts.rows - last) * 1000) / (now - t));
        last = sink.counts.rows;
        t = now;
      }
      cli.child.kill('SIGKILL');
      const r = await cli.done();
      expect(r.signal).toBe('SIGKILL');
      // The checkpoint always parses (old or new, never torn) and never runs ahead of the sink.
      const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
      expect(checkpoint.rows.delivered).toBeLessThanOrEqual(sink.acceptedIds().length);
      // Rows the sink got past the checkpoint in this run: what the next run sends again.
      const nowUnaccounted = sink.acceptedIds().length - checkpoint.rows.delivered;
      const resent = nowUnaccounted - unaccounted;
      unaccounted = nowUnaccounted;
      // In flight + one checkpoint interval (100 ms) and a write, with slack for a loaded machine
      // whose timers run late: a 1 s interval would allow ~10× more.
      const bound = CONCURRENCY * BATCH + peakRate * 0.5;
      worstResent = Math.max(worstResent, resent);
      worstBound = Math.max(worstBound, bound);
      expect(resent).toBeLessThanOrEqual(bound);
    }
    const finished = await runCli([...args, '--resume'], { timeoutMs: 120_000 });
    expect(finished.code, finished.stderr).toBe(0);
    const ids = sink.acceptedIds();
    expect(new Set(ids)).toEqual(new Set(range(1, ROWS)));
    const dupes = ids.length - ROWS;
    console.log(
      `kill -9 ×${KILLS}: ${dupes} rows re-sent in all, worst per kill ${worstResent} (bound ${Math.round(worstBound)})`,
    );
    expect(dupes).toBeLessThanOrEqual(KILLS * worstBound);
  }, 300_000);
});
