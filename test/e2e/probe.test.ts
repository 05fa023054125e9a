import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCapacityFleet } from '../helpers/capacity-target.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { startHttpSink } from '../helpers/http-sink.js';

const ROWS = 30_000;
let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let table: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  table = schema.qualified('listings');
  await withClient(db.url, async (c) => {
    await c.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text)`);
    await c.query(`INSERT INTO ${table} SELECT i, 'listing ' || i FROM generate_series(1, ${ROWS}) i`);
  });
});

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

/** The database URL with a password in it (trust auth ignores it): it must never be printed. */
function urlWithPassword(): string {
  const u = new URL(db.url);
  u.password = 'hunter22pw';
  return u.toString();
}

describe('probe (the binary)', () => {
  it('against a sticky balancer with a session cost and 2 × 4 workers: stickiness matters, knee near 8', async () => {
    // Each target works 4 requests at once, 20 ms each, +20 ms for a request without its session
    // cookie; 4 more wait, then 503. The fleet's knee is 8 in flight; without cookies every request
    // builds a session, so sticky lanes take about twice the rows/s of sticky off.
    await using fleet = await startCapacityFleet(2, { workers: 4, serviceMs: 20, sessionMs: 20, queue: 4 });
    const url = `${fleet.url}/listings`;
    const r = await runCli(
      [
        'probe',
        '--from',
        urlWithPassword(),
        '--table',
        table,
        '--to',
        url,
        '-H',
        'Authorization: Bearer sekret-token-1',
        '--batch-size',
        '10',
        '--max-concurrency',
        '32',
        '--rows',
        String(ROWS),
        '--step-time',
        '600ms',
        '--max-time',
        '40s',
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/batch\s+sticky\s+concurrency\s+rows\s+rows\/s\s+p50 ms\s+p99 ms\s+overload/);
    expect(out).toMatch(/stickiness matters: sticky lane gives [\d.]+× the rows\/s of sticky off/);
    const lane = /sticky lane: (\d+) \(best (\d+) rows\/s/.exec(out);
    expect(lane, out).not.toBeNull();
    // Within one step of the true knee (8): 4, 8 or 16, for both modes.
    expect([4, 8, 16]).toContain(Number(lane?.[1]));
    expect([4, 8, 16]).toContain(Number(/sticky off: (\d+) \(best/.exec(out)?.[1]));
    // 8 working + 8 queued: at 32 in flight the fleet answers 503, and the lane sweep stops there.
    expect(out).toMatch(/sticky lane: \d+ \(best \d+ rows\/s; stopped: over 5 % overload answers\)/);
    const use = /use:\n {2}(.+)\n/.exec(out)?.[1] ?? '';
    expect(use).toMatch(/^bulk-import run --from \S+ --table \S+ --to \S+ -H 'Authorization: \*\*\*' /);
    expect(use).toMatch(/--batch-size 10 --concurrency (4|8|16) --sticky lane$/);
    expect(use).not.toMatch(/--yes|--rows|--max-concurrency|--step-time|--max-time/);
    // Secrets: not in the output, not in the progress lines.
    expect(out + r.stderr).not.toMatch(/hunter22pw|sekret-token-1/);
    expect(out).toContain('postgres:***@');
    // The rows are real and said to be: each was sent once (no retries), and the count printed is the API's.
    const ids = fleet.backends.flatMap((b) => b.ids);
    expect(new Set(ids).size).toBe(ids.length);
    const sent = /(\d+) real rows were sent \(keys 1 … (\d+)\): (\d+) taken by the API/.exec(out);
    expect(sent, out).not.toBeNull();
    expect(Number(sent?.[3])).toBe(ids.length);
    expect(out).toContain('probe wrote no checkpoint');
  }, 90_000);

  it("sends the same Idempotency-Key for a row as the `run` it recommends, so the run's re-send is idempotent", async () => {
    await using sink = await startHttpSink({ record: 'full', fault: () => ({ delayMs: 2 }) });
    const args = ['--from', db.url, '--table', table, '--to', `${sink.url}/rows`, '--batch-size', '25'];
    const probe = await runCli(
      ['probe', ...args, '--rows', '2000', '--max-concurrency', '4', '--step-time', '150ms', '--sticky', 'lane'],
      { timeoutMs: 30_000 },
    );
    expect(probe.code, probe.stderr).toBe(0);
    const probeKeys = new Map(sink.requests.map((q) => [q.ids.join(','), q.headers['idempotency-key']]));
    expect(probeKeys.size).toBeGreaterThan(4);
    sink.clear();
    const use = shellWords(/use:\n {2}(.+)\n/.exec(probe.stdout)?.[1] ?? '');
    expect(use.slice(0, 2)).toEqual(['bulk-import', 'run']);
    const run = await runCli([...use.slice(1), '--limit', '3000', '--no-checkpoint', '--no-progress'], {
      timeoutMs: 30_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const runKeys = new Map(sink.requests.map((q) => [q.ids.join(','), q.headers['idempotency-key']]));
    for (const [ids, key] of probeKeys) expect(runKeys.get(ids), ids).toBe(key);
  }, 60_000);

  it('Ctrl-C stops it after the requests in flight, with the table so far (exit 130)', async () => {
    await using sink = await startHttpSink({ record: 'ids', fault: () => ({ delayMs: 20 }) });
    const cli = startCli([
      'probe',
      ...['--from', db.url, '--table', table, '--to', `${sink.url}/rows`, '--batch-size', '5'],
      ...['--step-time', '1500ms', '--sticky', 'lane'],
    ]);
    for (const end = Date.now() + 20_000; !/2 in flight/.test(cli.output().stderr) && Date.now() < end; )
      await sleep(20);
    cli.child.kill('SIGINT');
    const r = await cli.done(20_000);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stdout).toMatch(/lane\s+1\s+\d+/);
    expect(r.stdout).toMatch(/lane\s+2\s+\d+/);
    expect(r.stdout).toContain('probe stopped early: it was interrupted');
    // Every row the API took is counted in what probe says it sent.
    const taken = Number(/: (\d+) taken by the API/.exec(r.stdout)?.[1]);
    expect(taken).toBe(sink.acceptedIds().length);
  }, 40_000);

  it('refuses to send real rows to a non-loopback URL without --yes: one line, exit 2, nothing read or sent', async () => {
    // Nothing listens on port 1: had probe connected to the database first, it would say so instead.
    const r = await runCli([
      'probe',
      '--from',
      'postgres://app:pw-secret-9@127.0.0.1:1/app',
      '--table',
      'listings',
      '--to',
      'http://api.example.invalid/listings',
    ]);
    expect(r.code).toBe(2);
    const line = expectOneLine(r.stderr);
    expect(line).toMatch(/probe sends real rows to http:\/\/api\.example\.invalid\/listings: add --yes/);
    expect(r.stdout).toBe('');
  });

  it('an API refusing the endpoint (401) ends it at once: one line, exit 2', async () => {
    await using sink = await startHttpSink({ record: 'full', fault: () => ({ status: 401 }) });
    const r = await runCli(['probe', '--from', db.url, '--table', table, '--to', `${sink.url}/rows`]);
    expect(r.code).toBe(2);
    expect(expectOneLine(r.stderr.split('\n').slice(1).join('\n'))).toMatch(/answered 401; the endpoint/);
    expect(sink.requests.length).toBe(1);
  });

  it('--dry-run reads the first batch, shows the plan, and sends nothing', async () => {
    await using sink = await startHttpSink({ record: 'full' });
    const r = await runCli([
      'probe',
      '--from',
      db.url,
      '--table',
      table,
      '--to',
      `${sink.url}/rows`,
      '--batch-size',
      '2',
      '--max-concurrency',
      '16',
      '--dry-run',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('dry run: nothing was sent.');
    expect(r.stdout).toContain('concurrency 1, 2, 4, 8, 16');
    expect(r.stdout).toContain('first request body: [{"id":1,"title":"listing 1"},{"id":2,"title":"listing 2"}]');
    expect(sink.counts.requests).toBe(0);
  });
});

/** Words of a command line as probe prints it: plain words and '…' single-quoted ones. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replaceAll("'\\''", "'") : (m[2] as string),
  );
}
