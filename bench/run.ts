import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  ensureListings,
  openBenchDatabase,
  redact,
  serverVersion,
  warmListings,
  type BenchDatabase,
} from './bench-database.js';
import { killAll, removeScratch, track } from './child-processes.js';
import { builtStamp, describeCode } from './code-version.js';
import { runComparison } from './comparison.js';
import { bulkImport, plainSingle, shebangCommand } from './contenders.js';
import { profileContender } from './cpu-profile.js';
import { parseBenchOptions, UsageError, type BenchOptions } from './options.js';
import { runRssScale } from './rss-scale.js';
import { startSinkProcess, type SinkProcess } from './sink-process.js';

/**
 * `npm run bench`: seeds bench_listings, starts the sink in its own process, runs the contenders
 * interleaved, prints a Markdown table and writes it to .bench/results-<date>.md.
 */
const TABLE = 'bench_listings';
const RESULTS_DIR = fileURLToPath(new URL('../../.bench/', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

// Whatever ends the bench, nothing it started may outlive it.
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

let db: BenchDatabase | undefined;
let sink: SinkProcess | undefined;
try {
  db = await openBenchDatabase(opts.databaseUrl, log);
  await ensureListings(db.url, TABLE, opts.rows, log);
  if (opts.rssScale) await ensureListings(db.url, `${TABLE}_x5`, opts.rows * 5, log);
  const { sampleRow, avgRowBytes } = await warmListings(db.url, TABLE);
  sink = await startSinkProcess(opts.front, track);
  const built = builtStamp();
  const header = await describeSetup(opts, db, avgRowBytes);
  log(
    `sink at ${sink.url}; running ${opts.profile ? 'the CPU profiles' : opts.rssScale ? 'the RSS scale check' : 'the contenders'}…`,
  );
  let body: string;
  let failed = false;
  let kind: string;
  if (opts.profile) {
    kind = 'profile';
    const dir = `${RESULTS_DIR}prof`;
    const b100 = bulkImport({
      db: db.url,
      table: TABLE,
      to: sink.url,
      rows: opts.rows,
      batch: 100,
      concurrency: 16,
      sticky: 'lane',
    });
    const b1 = bulkImport({
      db: db.url,
      table: TABLE,
      to: sink.url,
      rows: opts.batch1Rows,
      limit: opts.batch1Rows,
      batch: 1,
      concurrency: 32,
      sticky: 'lane',
    });
    // The plain batch-1 script beside bulk-import's batch 1: where the two differ per request.
    const p1 = plainSingle(db.url, TABLE, sink.url, opts.batch1Rows, 32);
    body = [
      await profileContender(b100, dir, 'batch100-lane'),
      '',
      await profileContender(b1, dir, 'batch1-lane'),
      '',
      await profileContender(p1, dir, 'plain-batch1'),
      '',
      `Profiles (open in Chrome DevTools → Performance): .bench/prof/batch100-lane.cpuprofile, batch1-lane.cpuprofile, plain-batch1.cpuprofile`,
    ].join('\n');
  } else if (opts.rssScale) {
    kind = 'rss-scale';
    ({ markdown: body, failed } = await runRssScale({
      opts,
      db: db.url,
      embedded: db.embedded,
      tables: [TABLE, `${TABLE}_x5`],
      sink,
      log,
    }));
  } else {
    kind = 'results';
    ({ markdown: body, failed } = await runComparison({
      opts,
      db: db.url,
      embedded: db.embedded,
      table: TABLE,
      sink,
      sampleRow,
      log,
    }));
  }
  const rebuilt =
    builtStamp() !== built
      ? '\n\n⚠ dist/src was rebuilt while the bench ran: these figures mix two builds of bulk-import; run it again.'
      : '';
  if (rebuilt) failed = true;
  const report = `${header}\n\n${body}${rebuilt}\n`;
  process.stdout.write(`\n${report}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${kind}-${new Date().toISOString().slice(0, 16).replace(':', '-')}${opts.quick ? '-quick' : ''}.md`;
  writeFileSync(file, report);
  log(`written to .bench/${file.slice(RESULTS_DIR.length)}`);
  if (failed) {
    log('some runs failed their counts check (❌ above: left out of the medians), or the build changed mid-run');
    process.exitCode = 1;
  }
} catch (err) {
  log(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await sink?.stop();
  await db?.stop();
}

async function describeSetup(o: BenchOptions, d: BenchDatabase, avgRowBytes: number): Promise<string> {
  const version = await serverVersion(d.url);
  const cpu = cpus();
  const n = (x: number) => x.toLocaleString('en');
  return [
    `## bulk-import bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC${o.quick ? ' (--quick)' : ''}`,
    '',
    `- bulk-import: ${describeCode()}, built ${new Date(builtStamp()).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `- machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, Node ${process.version}; client, sink and PostgreSQL share these cores`,
    `- PostgreSQL ${version}${d.embedded ? ' (embedded pglite: single-threaded, slower)' : ''} at ${redact(d.url)}; table ${TABLE}: ${n(o.rows)} rows, ~${avgRowBytes} bytes of JSON each`,
    `- sink: own process, record 'count'${o.front === 'alb' ? ', behind the sticky-balancer simulator (AWSALB + AWSALBCORS set on every answer, as an ALB does)' : ', bare (no cookies)'}`,
    `- bulk-import runs as \`${shebangCommand()} bin/bulk-import.js run … --no-progress --no-checkpoint\`: the environment and flags of its shebang, which \`npx bulk-import\` honours; baselines and autocannon run with node's defaults`,
    o.rssScale || o.profile
      ? `- ${o.rssScale ? `bench_listings (${n(o.rows)} rows) against bench_listings_x5 (${n(o.rows * 5)} rows)` : `one profiled run each; batch 1 reads the first ${n(o.batch1Rows)} rows`}`
      : `- batch 1 reads the first ${n(o.batch1Rows)} rows (--limit), the naive client the first ${n(o.naiveRows)}; autocannon runs ${o.autocannonSeconds} s`,
    `- ${o.profile ? 1 : o.runs} run(s) per contender${o.profile ? '' : ', interleaved; medians of runs that passed the counts check (the sink received exactly the rows and requests expected, exit 0)'}`,
    '- rows/s and requests/s over wall time from spawn to exit (start-up included; autocannon: its own span); CPU (user + sys) and peak RSS from `process.resourceUsage()` in the child',
    '- sink and PostgreSQL CPU per 1M rows show what the rest of the pipeline cost on the shared cores; foreign load = share of the machine busy with anything else (other users of the box) during the run, from /proc',
  ].join('\n');
}
