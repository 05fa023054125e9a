import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureListings, openBenchDatabase, redact, serverVersion, warmListings } from '../bench-database.js';
import type { BenchDatabase } from '../bench-database.js';
import { killAll, removeScratch, track } from '../child-processes.js';
import { builtStamp, describeCode } from '../code-version.js';
import { shebangCommand } from '../contenders.js';
import { parseBenchOptions, UsageError, type BenchOptions } from '../options.js';
import { startCapacityProcess, type CapacityProcess } from './capacity-process.js';
import { measureAdaptive, type AdaptiveMeasurement } from './measure.js';
import {
  apiRowsPerSec,
  BATCH,
  contendersFor,
  KNEES,
  MAX_CONCURRENCY,
  SERVICE_MS,
  type AdaptiveContender,
} from './plan.js';
import { kneeTable, kneeTargets, summarizeAdaptive } from './report.js';

/**
 * `npm run bench -- --adaptive`: bulk-import's `--concurrency auto` against fixed concurrencies on
 * an API with a capacity model (capacity-server.ts, its own process), for knees of 8, 32 and 128 in
 * flight. Every contender is the real binary reading the bench table from PostgreSQL; runs are
 * interleaved (every round visits every knee and contender, in an order rotated per round), and
 * medians are judged against the issue's targets.
 */
const TABLE = 'bench_listings_adaptive';
const RESULTS_DIR = fileURLToPath(new URL('../../../.bench/', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

process.once('exit', () => {
  killAll();
  removeScratch();
});
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the bench`);
    process.exit(code);
  });
}

let opts: BenchOptions;
try {
  opts = parseBenchOptions(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  log(err.message);
  process.exit(2);
}

/** Seconds of work each run gets at the rate the API allows it: by default long enough to settle, short enough for ~8 min. */
const seconds = opts.adaptiveSeconds;

let db: BenchDatabase | undefined;
let api: CapacityProcess | undefined;
try {
  db = await openBenchDatabase(opts.databaseUrl, log);
  const dbUrl = db.url;
  api = await startCapacityProcess(track);
  const capacity = api;
  const byKnee = new Map<number, AdaptiveContender[]>(
    KNEES.map((k) => [k, contendersFor(k, seconds, dbUrl, TABLE, capacity.url)]),
  );
  const rows = Math.max(...[...byKnee.values()].flat().map((c) => c.rows));
  // Every contender reads with --limit, so a larger table (left by a longer run) serves as it is.
  if (!(await holdsAtLeast(db.url, TABLE, rows))) await ensureListings(db.url, TABLE, rows, log);
  const { avgRowBytes } = await warmListings(db.url, TABLE);
  const built = builtStamp();
  const results = new Map<string, AdaptiveMeasurement[]>();
  const started = Date.now();
  for (let round = 0; round < opts.runs; round++) {
    for (const knee of KNEES) {
      await capacity.configure({ workers: knee, serviceMs: SERVICE_MS, queue: knee });
      const cs = byKnee.get(knee) ?? [];
      // Rotated per round, so no contender always runs first (or right after the slowest).
      const order = cs.map((_, i) => cs[(i + round) % cs.length]);
      for (const c of order) {
        const m = await measureAdaptive(c, capacity);
        results.set(c.id, [...(results.get(c.id) ?? []), m]);
        log(
          `round ${round + 1}/${opts.runs} knee ${knee} ${c.label}: ${Math.round(m.rowsPerSec)} rows/s, p99 ${m.p99Ms.toFixed(1)} ms, ` +
            `503 ${(m.refusedShare * 100).toFixed(2)} %, in flight ${m.meanInFlight.toFixed(1)}${m.limitMedian === undefined ? '' : `, limit median ${m.limitMedian}`}` +
            `${m.problems.length ? ` ❌ ${m.problems.join('; ')}` : ''}`,
        );
      }
    }
  }
  const minutes = (Date.now() - started) / 60_000;
  let failed = false;
  const sections: string[] = [];
  for (const knee of KNEES) {
    const summaries = (byKnee.get(knee) ?? []).map((c) => summarizeAdaptive(c, results.get(c.id) ?? []));
    const verdict = kneeTargets(knee, summaries);
    if (!verdict.pass) failed = true;
    sections.push(
      `### Knee ${knee}: ${knee} workers × ${SERVICE_MS} ms, queue ${knee} (at most ${int(apiRowsPerSec(knee, knee))} rows/s)`,
      '',
      kneeTable(summaries),
      '',
      verdict.markdown,
      '',
    );
  }
  const rebuilt = builtStamp() !== built;
  const header = await describe(opts, db, avgRowBytes, rows, minutes);
  const report = `${header}\n\n${sections.join('\n')}${rebuilt ? '\n⚠ dist/src was rebuilt while the bench ran: these figures mix two builds of bulk-import; run it again.\n' : ''}`;
  process.stdout.write(`\n${report}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}adaptive-${new Date().toISOString().slice(0, 16).replace(':', '-')}${opts.quick ? '-quick' : ''}.md`;
  writeFileSync(file, report);
  log(`written to .bench/${file.slice(RESULTS_DIR.length)}`);
  if (failed || rebuilt) {
    log('a target was missed (❌ above), a run failed its counts check, or the build changed mid-run');
    process.exitCode = 1;
  }
} catch (err) {
  log(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await api?.stop();
  await db?.stop();
}

/** Whether `table` holds ids 1…n with n ≥ `rows` (what --limit reads first). */
async function holdsAtLeast(url: string, table: string, rows: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    if ((await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0].t === null)
      return false;
    const { n, lo, hi } = (
      await client.query<{ n: string; lo: string; hi: string }>(
        `SELECT count(*)::text AS n, coalesce(min(id), 0)::text AS lo, coalesce(max(id), 0)::text AS hi FROM ${table}`,
      )
    ).rows[0];
    return Number(n) >= rows && Number(lo) === 1 && Number(hi) === Number(n);
  } finally {
    await client.end();
  }
}

function int(x: number): string {
  return Math.round(x).toLocaleString('en');
}

async function describe(
  o: BenchOptions,
  d: BenchDatabase,
  avgRowBytes: number,
  rows: number,
  minutes: number,
): Promise<string> {
  const version = await serverVersion(d.url);
  const cpu = cpus();
  const top = apiRowsPerSec(KNEES[KNEES.length - 1], KNEES[KNEES.length - 1]);
  return [
    `## bulk-import adaptive-concurrency bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${o.quick ? ' (--quick)' : ''}`,
    '',
    `- bulk-import: ${describeCode()}, built ${new Date(builtStamp()).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `- machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, Node ${process.version}; client, API and PostgreSQL share these cores`,
    `- PostgreSQL ${version}${d.embedded ? ' (embedded pglite)' : ''} at ${redact(d.url)}; contenders read the first rows of ${TABLE} (up to ${int(rows)}), ~${avgRowBytes} bytes of JSON each`,
    `- API: its own process; k workers × ${SERVICE_MS} ms each, a FIFO queue of k more, 503 at once beyond (no Retry-After); knees k = ${KNEES.join(', ')}`,
    `- client: \`${shebangCommand()} bin/bulk-import.js run --batch-size ${BATCH} --limit N … --no-progress --no-checkpoint\` with \`--concurrency\` fixed at k/2, k, 2k, 4k or \`auto --max-concurrency ${MAX_CONCURRENCY}\`; each run gets ~${seconds} s of work at the rate the API allows it`,
    `- the largest knee takes ${int(top)} rows/s = ${int(top / BATCH)} requests/s of ${BATCH} rows; "client CPU" is the client's CPU over its wall time (on two cores shared with the API and PostgreSQL, past ~0.5 the client's own share of each request's latency grows with its load)`,
    `- ${o.runs} run(s) per contender, interleaved (rounds over knees and contenders, order rotated per round); medians of runs that delivered every row and exited 0, min–max in brackets; ${minutes.toFixed(1)} min of runs`,
    "- rows/s over the API's span (first request in → last answer out: the client's start-up is left out, its ramp-up is not); p50/p99: arrival-to-answer latency of accepted requests at the API (queueing included); 503 %: refused / all requests that reached it; mean in flight: time-weighted, at the API",
  ].join('\n');
}
