import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { runCli, startCli } from '../helpers/cli.js';
import { makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** A transform that never settles for row 7: the promise of a stuck downstream lookup. */
const STUCK = 'export default (row) => (Number(row.id) === 7 ? new Promise(() => {}) : { id: row.id });';

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, (client) => seedListings(client, { table: schema.qualified('listings'), rows: 40 }));
}, 120_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond(); await sleep(20))
    if (Date.now() > end) throw new Error('condition not met in time');
}

describe('a transform that never answers', () => {
  it('fails its row after --transform-timeout; the other rows arrive and the run exits 1 (not 13)', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(40));
    const transform = await dir.file('stuck.mjs', STUCK);
    const failed = `${dir.path}/f.ndjson`;
    await using sink = await startHttpSink({ record: 'ids' });
    const r = await runCli([
      'run',
      '--from',
      from,
      '--to',
      sink.url,
      '--batch-size',
      '5',
      '--transform',
      transform,
      '--transform-timeout',
      '1s',
      '--failed',
      failed,
      '--no-checkpoint',
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(sink.acceptedIds().sort()).toEqual(
      range(1, 40)
        .filter((id) => id !== '7')
        .sort(),
    );
    const line = JSON.parse((await readFile(failed, 'utf8')).trim()) as { row: { id: number }; error: string };
    expect(line).toMatchObject({ row: { id: 7 }, error: expect.stringContaining('no answer after 1000 ms') });
  });

  it.each(['ndjson', 'postgres'] as const)('does not hold up SIGINT (%s source): exit 130 at once', async (kind) => {
    await using dir = await tempDir();
    const from = kind === 'ndjson' ? await dir.file('rows.ndjson', makeRows(40)) : db.url;
    const table = kind === 'postgres' ? ['--table', schema.qualified('listings')] : [];
    const transform = await dir.file('stuck.mjs', STUCK);
    const ckpt = `${dir.path}/c.ckpt.json`;
    await using sink = await startHttpSink({ record: 'ids' });
    // The default timeout (30 s) is far longer than the test waits.
    const cli = startCli([
      'run',
      '--from',
      from,
      ...table,
      '--to',
      sink.url,
      '--batch-size',
      '2',
      '--concurrency',
      '2',
      '--transform',
      transform,
      '--checkpoint',
      ckpt,
      '--no-progress',
    ]);
    await until(() => sink.acceptedIds().length >= 6);
    await sleep(300); // now the pipeline waits on row 7 alone
    const t0 = Date.now();
    cli.child.kill('SIGINT');
    const r = await cli.done(20_000);
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(sink.acceptedIds().sort()).toEqual(range(1, 6).sort());
    // Row 7 was neither sent nor failed: the watermark stays before it, so a resume reads it again.
    const c = JSON.parse(await readFile(ckpt, 'utf8')) as { rows: { read: number; failed: number }; complete: boolean };
    expect(c).toMatchObject({ complete: false, rows: { read: 6, failed: 0 } });
  });
});
