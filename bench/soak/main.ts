import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { checkpointProblem } from '../../src/checkpoint/checkpoint-shape.js';
import { startHttpSink, type HttpSink } from '../../test/helpers/http-sink.js';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { openBenchDatabase } from '../bench-database.js';
import { byteChecker, faultyApi } from './faults.js';

/**
 * `npm run soak`: kills and resumes a real import again and again under API faults, and checks
 * the promise after every kill: the checkpoint is whole and valid, and at the end of each job no
 * id is lost, every row arrived byte for byte as stored, the job's counts equal the table's, and
 * the rows re-sent after each kill stay within the bound the README states. Bounded: --kills
 * kills (default 100), each run at most a few seconds. Not part of `npm test`.
 */
const BIN = fileURLToPath(new URL('../../../bin/bulk-import.js', import.meta.url));
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const KILLS = Number(args.get('kills') ?? 100);
const ROWS = Number(args.get('rows') ?? 100_000);
const BATCH = 100;
const CONCURRENCY = 8;
/** The checkpoint interval (100 ms) plus a write and a late timer on a loaded 2-core machine. */
const INTERVAL_S = 0.2;
const log = (line: string) => process.stdout.write(`${line}\n`);

interface KillRecord {
  signal: string;
  resent: number;
  bound: number;
  code: number | null;
}

async function main(): Promise<void> {
  const db = await openBenchDatabase(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', log);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const table = 'bulk_import_soak.listings';
  await client.query('DROP SCHEMA IF EXISTS bulk_import_soak CASCADE; CREATE SCHEMA bulk_import_soak');
  await seedListings(client, { table, rows: ROWS });
  await client.query(`DELETE FROM ${table} WHERE id % 7 = 3`); // gapped ids: a count is not a range
  // The rows as the tool renders them (same session settings), to check arrivals byte for byte.
  await client.query(`SET DateStyle = ISO; SET IntervalStyle = postgres; SET TimeZone = 'UTC'`);
  const res = await client.query<{ k: string; j: string }>(
    `SELECT id::text AS k, row_to_json(t.*)::text AS j FROM ${table} t ORDER BY id`,
  );
  await client.end();
  const source = new Map(res.rows.map((r) => [r.k, r.j]));
  const order = res.rows.map((r) => r.k);
  const bytes = byteChecker(source);
  const faults = faultyApi(Number(args.get('seed') ?? 20261201));
  const sink = await startHttpSink({ record: 'ids', fault: (req) => bytes.check(req) ?? faults(req) });
  const dir = await mkdtemp(join(tmpdir(), 'bulk-import-soak-'));
  const kills: KillRecord[] = [];
  const problems: string[] = [];
  let jobs = 0;
  const started = Date.now();
  try {
    while (kills.length < KILLS) {
      const limit = jobs % 2 === 1 ? Math.floor(order.length * 0.6) : undefined;
      await soakJob({
        db: db.url,
        table,
        sink,
        dir: join(dir, `job${jobs}`),
        limit,
        kills,
        problems,
        want: order.slice(0, limit ?? order.length),
      });
      jobs++;
    }
  } finally {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
    await db.stop();
  }
  problems.push(...bytes.mismatches().map((id) => `row ${id} arrived with other bytes than stored`));
  report(kills, problems, jobs, Date.now() - started);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

interface Job {
  db: string;
  table: string;
  sink: HttpSink;
  dir: string;
  limit: number | undefined;
  kills: KillRecord[];
  problems: string[];
  want: string[];
}

/** One job: runs killed at random points until one finishes, then the job's whole account. */
async function soakJob(j: Job): Promise<void> {
  j.sink.clear();
  const ckpt = `${j.dir}.ckpt.json`;
  const base = [
    'run',
    '--from',
    j.db,
    '--table',
    j.table,
    '--to',
    j.sink.url,
    '--batch-size',
    String(BATCH),
    '--concurrency',
    String(CONCURRENCY),
    '--checkpoint',
    ckpt,
    '--failed',
    `${j.dir}.failed.ndjson`,
    '--no-progress',
    ...(j.limit ? ['--limit', String(j.limit)] : []),
  ];
  let unaccounted = 0;
  for (let run = 0; ; run++) {
    const child = spawn(process.execPath, [BIN, ...base, ...(run > 0 ? ['--resume'] : [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let finished: number | null | undefined;
    void exited.then((c) => (finished = c));
    // Stops land once rows flow (a signal before the handlers exist just ends a process that sent nothing).
    const flowing = j.sink.counts.requests;
    for (
      const end = Date.now() + 30_000;
      finished === undefined && j.sink.counts.requests === flowing && Date.now() < end;
    )
      await sleep(5);
    const killAt = Date.now() + Math.random() * 1500;
    let peak = 0;
    for (let last = j.sink.counts.rows, t = Date.now(); finished === undefined && Date.now() < killAt; ) {
      await sleep(50);
      peak = Math.max(peak, ((j.sink.counts.rows - last) * 1000) / Math.max(1, Date.now() - t));
      last = j.sink.counts.rows;
      t = Date.now();
    }
    const last = finished !== undefined || j.kills.length >= KILLS;
    const signal = last ? undefined : pickSignal();
    if (signal) child.kill(signal);
    const code = await exited;
    const text = await readFile(ckpt, 'utf8').catch(() => '');
    let c: { rows: { delivered: number; read: number; failed: number }; complete: boolean } | undefined;
    try {
      c = JSON.parse(text);
      const problem = checkpointProblem(c);
      if (problem) j.problems.push(`checkpoint invalid after ${signal ?? 'exit'}: ${problem}`);
    } catch {
      j.problems.push(`checkpoint unreadable after ${signal ?? 'exit'}`);
    }
    if (!signal) {
      if (code !== 0 && code !== 1) j.problems.push(`final run exited ${code}: ${stderr.trim().split('\n').at(-1)}`);
      checkJob(j, c);
      return;
    }
    const nowUnaccounted = j.sink.acceptedIds().length - (c?.rows.delivered ?? 0);
    const resent = nowUnaccounted - unaccounted;
    unaccounted = nowUnaccounted;
    j.kills.push({ signal, resent, bound: CONCURRENCY * BATCH + peak * INTERVAL_S, code });
    if (signal !== 'SIGKILL' && code !== 130 && code !== 143 && code !== 0)
      j.problems.push(`${signal} gave exit ${code}: ${stderr.trim().split('\n').at(-1)}`);
  }
}

function checkJob(
  j: Job,
  c: { rows: { delivered: number; read: number; failed: number }; complete: boolean } | undefined,
): void {
  const got = new Set(j.sink.acceptedIds());
  const lost = j.want.filter((id) => !got.has(id));
  const want = new Set(j.want);
  const extra = [...got].filter((id) => !want.has(id)).length;
  if (lost.length > 0 && (c?.rows.failed ?? 0) < lost.length)
    j.problems.push(`${lost.length} ids lost (e.g. ${lost.slice(0, 5).join(', ')})`);
  if (extra > 0) j.problems.push(`${extra} ids arrived that the job should not send (--limit ${j.limit})`);
  if (!c?.complete) j.problems.push('the last run did not mark the job complete');
  if (c && c.rows.read !== j.want.length)
    j.problems.push(`job counts ${c.rows.read} rows read for ${j.want.length} in the table`);
}

function pickSignal(): NodeJS.Signals {
  const r = Math.random();
  return r < 0.6 ? 'SIGKILL' : r < 0.8 ? 'SIGTERM' : 'SIGINT';
}

function report(kills: KillRecord[], problems: string[], jobs: number, ms: number): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const hard = kills.filter((k) => k.signal === 'SIGKILL');
  const soft = kills.filter((k) => k.signal !== 'SIGKILL');
  const over = kills.filter((k) => k.resent > k.bound);
  log(
    `soak: ${kills.length} stops (${hard.length} kill -9, ${soft.length} SIGTERM/SIGINT) over ${jobs} jobs in ${(ms / 1000).toFixed(0)} s`,
  );
  log(
    `  re-sent per kill -9: median ${median(hard.map((k) => k.resent))}, max ${Math.max(0, ...hard.map((k) => k.resent))} rows` +
      ` (bound: ${CONCURRENCY}×${BATCH} in flight + ${INTERVAL_S * 1000} ms at the peak rate, max ${Math.round(Math.max(0, ...hard.map((k) => k.bound)))})`,
  );
  log(
    `  re-sent per graceful stop: median ${median(soft.map((k) => k.resent))}, max ${Math.max(0, ...soft.map((k) => k.resent))} rows`,
  );
  log(`  over the bound: ${over.length} of ${kills.length}`);
  for (const p of problems) log(`  PROBLEM: ${p}`);
  log(problems.length === 0 && over.length === 0 ? 'soak: every row accounted for' : 'soak: FAILED');
  if (over.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${String(err)}\n`);
  process.exitCode = 1;
});
