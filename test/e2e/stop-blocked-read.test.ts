import { readFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 8, item 9: a read that blocks on the server can always be stopped, and is bounded by
// --statement-timeout. Real PostgreSQL only: pg_sleep in the embedded pglite would block the
// test process itself (it runs pglite), and pglite ignores cancel requests and timeouts.
const realPostgres = !!process.env.TEST_DATABASE_URL;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let table: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  table = schema.qualified('slow');
  await withClient(db.url, async (c) => {
    await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
    await c.query(`INSERT INTO ${table} SELECT g, 'v' || g FROM generate_series(1, 100) g`);
  });
}, 60_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

/** Statements of this test's table still running on the server (a cancel that did not work). */
async function stillRunning(): Promise<number> {
  return withClient(db.url, async (c) => {
    const res = await c.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1`,
      [`%${schema.schema}%pg_sleep%`],
    );
    return res.rows[0].n as number;
  });
}

/** Waits until the run's read is blocked on the server (under load, node may take a while to start). */
async function untilBlocked(): Promise<void> {
  for (const end = Date.now() + 15_000; (await stillRunning()) === 0; ) {
    if (Date.now() > end) throw new Error('the read never started');
    await sleep(50);
  }
  await sleep(300);
}

describe.skipIf(!realPostgres)('a blocked read can be stopped', () => {
  it.each([
    ['SIGINT', 130, '1'],
    ['SIGINT', 130, '10'],
    ['SIGTERM', 143, '10'],
  ] as const)(
    '%s during a read that sleeps: exits %i in seconds with the resume hint (batch size %s)',
    async (signal, code, batchSize) => {
      await using dir = await tempDir();
      const ckpt = `${dir.path}/job.ckpt.json`;
      await using sink = await startHttpSink({ record: 'ids' });
      const cli = startCli([
        'run',
        '--from',
        db.url,
        '--table',
        table,
        '--where',
        'pg_sleep(20) IS NOT NULL',
        '--to',
        sink.url,
        '--batch-size',
        batchSize,
        '--checkpoint',
        ckpt,
        '--no-progress',
      ]);
      await untilBlocked();
      const stoppedAt = Date.now();
      cli.child.kill(signal);
      const r = await cli.done(15_000);
      expect(r.code, r.stderr).toBe(code);
      expect(Date.now() - stoppedAt).toBeLessThan(5000);
      expect(r.stderr).toContain('resume with: bulk-import run');
      expect(JSON.parse(await readFile(ckpt, 'utf8'))).toMatchObject({
        complete: false,
        watermark: null,
        rows: { read: 0, delivered: 0 },
      });
      expect(sink.counts.requests).toBe(0);
      // Cancelled on the server, not just abandoned by the client (the count query too).
      expect(await stillRunning()).toBe(0);
    },
  );

  it('a stop during the start-up check (a NULL-key scan that sleeps) exits 130 at once', async () => {
    const nullable = schema.qualified('nullable');
    await withClient(db.url, (c) =>
      c.query(`CREATE TABLE ${nullable} AS SELECT g AS id FROM generate_series(1, 5) g UNION ALL SELECT NULL`),
    );
    await using sink = await startHttpSink({ record: 'ids' });
    const cli = startCli([
      'run',
      '--from',
      db.url,
      '--table',
      nullable,
      '--where',
      'pg_sleep(20) IS NOT NULL',
      '--to',
      sink.url,
      '--no-checkpoint',
      '--no-progress',
    ]);
    await untilBlocked();
    const stoppedAt = Date.now();
    cli.child.kill('SIGINT');
    const r = await cli.done(15_000);
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(await stillRunning()).toBe(0);
  });

  it('a stop while the next page is prefetched leaves a checkpoint at what was delivered', async () => {
    await using dir = await tempDir();
    const ckpt = `${dir.path}/job.ckpt.json`;
    // The first page (ids 1–20) reads at once and takes ~2 s to send; the prefetched second page sleeps.
    await using sink = await startHttpSink({ record: 'ids', latencyMs: 500 });
    const cli = startCli([
      'run',
      '--from',
      db.url,
      '--table',
      table,
      '--where',
      'id <= 20 OR pg_sleep(20) IS NOT NULL',
      '--to',
      sink.url,
      '--batch-size',
      '5',
      '--page-rows',
      '20',
      '--concurrency',
      '1',
      '--checkpoint',
      ckpt,
      '--no-progress',
    ]);
    for (const end = Date.now() + 10_000; sink.counts.requests < 2 && Date.now() < end; ) await sleep(20);
    cli.child.kill('SIGINT');
    const r = await cli.done(15_000);
    expect(r.code, r.stderr).toBe(130);
    const arrived = sink.acceptedIds();
    expect(arrived.length).toBeGreaterThan(0);
    expect(arrived.length).toBeLessThan(20);
    const checkpoint = JSON.parse(await readFile(ckpt, 'utf8'));
    expect(checkpoint).toMatchObject({
      complete: false,
      watermark: [String(arrived.length)],
      rows: { delivered: arrived.length },
    });
    expect(arrived).toEqual(range(1, arrived.length));
    expect(await stillRunning()).toBe(0);
  });
});

/**
 * A TCP proxy to PostgreSQL that drops every cancel request, as a pooler or a load balancer that
 * sends the cancel to another server does in effect.
 */
async function cancelDroppingProxy(url: string): Promise<{ url: string } & AsyncDisposable> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('data', (first: Buffer) => {
      if (first.length >= 8 && first.readInt32BE(4) === 80877102) return void client.destroy();
      const upstream = connect(Number(target.port || 5432), target.hostname, () => {
        upstream.write(first);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    [Symbol.asyncDispose]: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe.skipIf(!realPostgres)('a stop when the cancel request goes nowhere', () => {
  it('still ends within seconds: the connection is cut', async () => {
    await using proxy = await cancelDroppingProxy(db.url);
    await using sink = await startHttpSink({ record: 'ids' });
    const cli = startCli([
      'run',
      '--from',
      proxy.url,
      '--table',
      table,
      '--where',
      'pg_sleep(20) IS NOT NULL',
      '--to',
      sink.url,
      '--statement-timeout',
      '30s',
      '--no-checkpoint',
      '--no-progress',
    ]);
    await untilBlocked();
    const stoppedAt = Date.now();
    cli.child.kill('SIGINT');
    const r = await cli.done(20_000);
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - stoppedAt).toBeLessThan(9000);
    // The server still sleeps (its cancel was dropped): end it, as a DBA would, so clean-up need not wait.
    await withClient(db.url, (c) =>
      c.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE $1`, [
        `%${schema.schema}%pg_sleep%`,
      ]),
    );
  });
});

describe.skipIf(!realPostgres)('--statement-timeout', () => {
  it('bounds a page read: fails fast with one line', async () => {
    await using sink = await startHttpSink({ record: 'ids' });
    const started = Date.now();
    const r = await runCli(
      [
        'run',
        '--from',
        db.url,
        '--table',
        table,
        '--where',
        'pg_sleep(20) IS NOT NULL',
        '--to',
        sink.url,
        '--statement-timeout',
        '1s',
        '--no-checkpoint',
        '--no-progress',
      ],
      { timeoutMs: 15_000 },
    );
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.code, r.stderr).toBe(1);
    expect(expectOneLine(r.stderr)).toBe(
      'bulk-import: a page read exceeded --statement-timeout (1s): raise it, or narrow --where',
    );
    expect(sink.counts.requests).toBe(0);
  });
});

describe('--statement-timeout at the edge', () => {
  it.each([
    [['--statement-timeout', 'soon'], '--statement-timeout must be a duration like 30s, 1500ms or 2m (got "soon")'],
    [['--statement-timeout', '0'], '--statement-timeout must be at least 1ms (got "0")'],
  ])('%j → exit 2', async (flags, line) => {
    const r = await runCli([
      'run',
      '--from',
      'postgres://nobody@127.0.0.1:1/x',
      '--table',
      't',
      '--to',
      'http://127.0.0.1:1/',
      ...flags,
    ]);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr)).toBe(`bulk-import: ${line}`);
  });
});
