import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  ensureListings,
  openBenchDatabase,
  redact,
  serverVersion,
  warmListings,
  type BenchDatabase,
} from '../bench-database.js';
import { killAll, removeScratch, runMeasured, scratch, track } from '../child-processes.js';
import { BIN, shebangCommand, shebangEnv, shebangNodeFlags } from '../contenders.js';
import { sampleHostCpu } from '../host-cpu.js';
import { median } from '../report.js';
import { startFauxqsProcess, type FauxqsProcess, type Settled } from './fauxqs-client.js';
import { lambdaColdMarkdown, measureLambdaCold } from './lambda-cold.js';
import { runQueueRssScale } from './rss-scale.js';
import { queueRunArgs } from './run-args.js';

/**
 * `node dist/bench/queue/run.js [--rows N] [--runs N] [--single-rows N]` (issue 4, "Benchmark"):
 * bulk-import `run --queue` from PostgreSQL into fauxqs, packed (64 KiB messages) and one row
 * per message, against a plain script doing the same by hand, interleaved round-robin; medians.
 * Every contender runs in its own process with the main bench's rusage preload; fauxqs runs in
 * its own process too, and each run gets a fresh queue that is checked (depth == messages sent),
 * drained (rows and payload bytes counted from what arrived), purged and deleted.
 */
const TABLE = 'bench_listings';
const SCALE_TABLE = 'bench_listings_scale';
const CHUNK = 65_536; // SQS bills every 64 KiB of a call's payload as one request
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
    log(`\n${signal}: stopping the queue bench`);
    process.exit(code);
  });
}

// ---- options --------------------------------------------------------------------------------
const USAGE = `usage: node dist/bench/queue/run.js [--rows N] [--runs N] [--single-rows N] [--rss-scale]
  --rows N         rows the packed contenders read (default 1,000,000)
  --rss-scale      only: run --queue over N and 5 × N rows of bench_listings_scale, peak RSS of each (an SQS stand-in keeps nothing)
  --runs N         runs per contender, interleaved round-robin; medians reported (default 3)
  --single-rows N  rows for --rows-per-message 1, about 10 × slower (default min(rows, 30,000))
  env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)`;
function parseOptions(argv: readonly string[]): { rows: number; runs: number; singleRows: number; rssScale: boolean } {
  const flags = new Map<string, number>();
  let rssScale = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      log(USAGE);
      process.exit(0);
    }
    if (a === '--rss-scale') {
      rssScale = true;
      continue;
    }
    if (a !== '--rows' && a !== '--runs' && a !== '--single-rows') {
      log(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
      process.exit(2);
    }
    const n = Number(String(argv[++i]).replaceAll('_', ''));
    if (!Number.isInteger(n) || n < 1) {
      log(`${a} needs a whole number ≥ 1\n${USAGE}`);
      process.exit(2);
    }
    flags.set(a, n);
  }
  const rows = flags.get('--rows') ?? 1_000_000;
  return {
    rows,
    runs: flags.get('--runs') ?? 3,
    singleRows: Math.min(rows, flags.get('--single-rows') ?? 30_000),
    rssScale,
  };
}
const opts = parseOptions(process.argv.slice(2));

// ---- contenders -----------------------------------------------------------------------------
interface QueueContender {
  readonly id: 'packed' | 'single' | 'plain';
  readonly label: string;
  readonly rows: number;
  readonly nodeArgs: readonly string[];
  /** Environment added for the run (bulk-import: its shebang's, see shebangEnv in contenders.ts). */
  readonly env: Record<string, string>;
  readonly script: string;
  args(queueUrl: string, summaryFile: string): string[];
  readonly timeoutMs: number;
}

/** A run's figures, from the child's own report, its rusage and what the queue received. */
interface QueueRun {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  readonly messages: number;
  readonly calls: number;
  readonly billed: number;
  /** Payload bytes as drained from the queue: body + attributes of every message. */
  readonly payloadBytes: number;
  readonly cpuPerMillion: number;
  readonly rssMB: number;
  readonly fauxqsCpuPerMillion: number;
  readonly dbCpuPerMillion: number;
  readonly foreignShare: number;
  readonly problems: string[];
}

const timeoutFor = (rows: number, floorRowsPerSec: number) => 60_000 + Math.ceil((rows / floorRowsPerSec) * 1000);

function contenders(db: string, endpoint: string, tableRows: number): QueueContender[] {
  const bi = (id: 'packed' | 'single', label: string, rows: number, extra: string[]): QueueContender => ({
    id,
    label,
    rows,
    nodeArgs: shebangNodeFlags(),
    env: shebangEnv(),
    script: BIN,
    args: (queueUrl, summaryFile) =>
      queueRunArgs({
        db,
        table: TABLE,
        queueUrl,
        endpoint,
        summaryFile,
        extra,
        limit: rows < tableRows ? rows : undefined,
      }),
    timeoutMs: timeoutFor(rows, id === 'single' ? 500 : 2000),
  });
  return [
    bi('packed', 'bulk-import run --queue, packed (64 KiB messages), concurrency 16', opts.rows, []),
    bi('single', 'bulk-import run --queue --rows-per-message 1, concurrency 16', opts.singleRows, [
      '--rows-per-message',
      '1',
    ]),
    {
      id: 'plain',
      label: 'plain script: keyset + row_to_json, ~64 KiB bodies, SendMessageBatch ×10, 16 in flight',
      rows: opts.rows,
      nodeArgs: [],
      env: {},
      script: fileURLToPath(new URL('./baseline-plain.js', import.meta.url)),
      args: (queue) => [db, TABLE, endpoint, queue, String(opts.rows)],
      timeoutMs: timeoutFor(opts.rows, 2000),
    },
  ];
}

let runCount = 0;
async function measureOnce(c: QueueContender, fq: FauxqsProcess): Promise<QueueRun> {
  const n = ++runCount;
  const queueUrl = await fq.createQueue(`bench-${c.id}-${n}`);
  const summaryFile = join(scratch, `summary-${n}.json`);
  const fq0 = await fq.usage();
  const host0 = sampleHostCpu();
  const run = await runMeasured(c.nodeArgs, c.script, c.args(queueUrl, summaryFile), c.timeoutMs, c.env);
  const host1 = sampleHostCpu();
  const fq1 = await fq.usage();
  const problems: string[] = [];
  if (run.exitCode !== 0)
    problems.push(`exit ${run.exitCode ?? run.signal}${run.stderrTail ? `: ${run.stderrTail}` : ''}`);
  if (!run.rusage) problems.push('no resource usage reported');
  // The client's own account: bulk-import's --summary-json, the plain script's last stdout line.
  let own = { rows: NaN, messages: NaN, calls: NaN, billed: NaN, payloadBytes: NaN };
  try {
    if (c.id === 'plain') {
      own = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as typeof own;
    } else {
      const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
        thisRun: { delivered: number; failed: number };
        queue?: { messages: number; calls: number; billedRequests: number };
      };
      rmSync(summaryFile);
      if (s.thisRun.failed > 0) problems.push(`${s.thisRun.failed} rows failed`);
      own = {
        rows: s.thisRun.delivered,
        messages: s.queue?.messages ?? NaN,
        calls: s.queue?.calls ?? NaN,
        billed: s.queue?.billedRequests ?? NaN,
        payloadBytes: NaN,
      };
    }
  } catch (err) {
    problems.push(`no summary from the client (${err instanceof Error ? err.message : String(err)})`);
  }
  if (own.rows !== c.rows) problems.push(`client reports ${own.rows} rows enqueued, expected ${c.rows}`);
  let settled: Settled | undefined;
  try {
    settled = await fq.settle(queueUrl, Number.isFinite(own.messages) ? own.messages : -1, 120_000);
    problems.push(...settled.problems);
    if (settled.rows !== c.rows) problems.push(`queue holds ${settled.rows} rows, expected ${c.rows}`);
    if (Number.isFinite(own.payloadBytes) && own.payloadBytes !== settled.payloadBytes) {
      problems.push(`plain script counted ${own.payloadBytes} payload bytes, the queue holds ${settled.payloadBytes}`);
    }
  } catch (err) {
    problems.push(`settling the queue failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const rows = own.rows;
  const seconds = run.wallMs / 1000;
  const cpuSec = run.rusage ? (run.rusage.userCPUTime + run.rusage.systemCPUTime) / 1e6 : NaN;
  const perMillion = (x: number) => (rows > 0 ? (x / rows) * 1e6 : NaN);
  const fqCpu = (fq1.cpuMicros - fq0.cpuMicros) / 1e6;
  const dbCpu = host1.postgres - host0.postgres;
  const foreign = host1.busy - host0.busy - cpuSec - fqCpu - dbCpu;
  return {
    rows,
    seconds,
    rowsPerSec: rows / seconds,
    messages: own.messages,
    calls: own.calls,
    billed: own.billed,
    payloadBytes: settled?.payloadBytes ?? NaN,
    cpuPerMillion: perMillion(cpuSec),
    rssMB: run.rusage ? run.rusage.maxRSS / 1024 : NaN,
    fauxqsCpuPerMillion: perMillion(fqCpu),
    dbCpuPerMillion: perMillion(dbCpu),
    foreignShare: host1.busy > 0 ? Math.max(0, foreign) / (seconds * availableParallelism()) : NaN,
    problems,
  };
}

// ---- report ---------------------------------------------------------------------------------
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '–');
const fix = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} ×` : '–');

interface QueueSummary {
  readonly c: QueueContender;
  readonly runs: QueueRun[];
  readonly good: number;
  readonly med: (f: (r: QueueRun) => number) => number;
}

function summarize(c: QueueContender, runs: QueueRun[]): QueueSummary {
  const ok = runs.filter((r) => r.problems.length === 0);
  return { c, runs, good: ok.length, med: (f) => median(ok.map(f)) };
}

const perM = (x: number, rows: number) => (x / rows) * 1e6;
const floorPerM = (r: QueueRun) => perM(r.payloadBytes / CHUNK, r.rows);

function report(all: QueueSummary[]): { markdown: string; failed: boolean } {
  const plainRate = all.find((s) => s.c.id === 'plain')?.med((r) => r.rowsPerSec) ?? NaN;
  const lines = [
    '| contender | rows | rows/s | SendMessageBatch calls / 1M rows | billed requests / 1M rows | floor / 1M rows | billed / floor | client CPU s / 1M rows | peak RSS MB | × plain (rows/s) | messages / 1M rows | fauxqs CPU s / 1M rows | PostgreSQL CPU s / 1M rows | foreign load | counts check | rows/s of each run |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|---|',
  ];
  for (const s of all) {
    const rate = s.med((r) => r.rowsPerSec);
    const check = s.good === s.runs.length ? `✅ ${s.good}/${s.runs.length}` : `❌ ${s.good}/${s.runs.length}`;
    lines.push(
      `| ${s.c.label} | ${int(s.c.rows)} | ${int(rate)} | ${int(s.med((r) => perM(r.calls, r.rows)))} | ${int(s.med((r) => perM(r.billed, r.rows)))} | ` +
        `${int(s.med(floorPerM))} | ${times(s.med((r) => r.billed / (r.payloadBytes / CHUNK)))} | ${fix(s.med((r) => r.cpuPerMillion))} | ${fix(
          s.med((r) => r.rssMB),
          0,
        )} | ` +
        `${times(rate / plainRate)} | ${int(s.med((r) => perM(r.messages, r.rows)))} | ${fix(s.med((r) => r.fauxqsCpuPerMillion))} | ${fix(s.med((r) => r.dbCpuPerMillion))} | ` +
        `${fix(
          s.med((r) => r.foreignShare * 100),
          0,
        )} % | ${check} | ${s.runs.map((r) => int(r.rowsPerSec)).join(', ')} |`,
    );
  }
  const packed = all.find((s) => s.c.id === 'packed');
  const ratioToFloor = packed?.med((r) => r.billed / (r.payloadBytes / CHUNK)) ?? NaN;
  const packedRate = packed?.med((r) => r.rowsPerSec) ?? NaN;
  const targets = [
    {
      what: 'packed: billed requests ≤ 1.01 × the floor (total payload bytes / 64 KiB)',
      measured: `${times(ratioToFloor)} (${int(packed?.med((r) => perM(r.billed, r.rows)) ?? NaN)} vs ${int(packed?.med(floorPerM) ?? NaN)} per 1M rows)`,
      pass: ratioToFloor <= 1.01,
    },
    {
      what: 'packed: enqueue rows/s ≥ 0.9 × plain script',
      measured: `${times(packedRate / plainRate)} (${int(packedRate)} / ${int(plainRate)})`,
      pass: packedRate / plainRate >= 0.9,
    },
    {
      what: 'packed: peak RSS ≤ 150 MB',
      measured: `${fix(packed?.med((r) => r.rssMB) ?? NaN, 0)} MB`,
      pass: (packed?.med((r) => r.rssMB) ?? NaN) <= 150,
    },
  ];
  const problems = all.flatMap((s) =>
    s.runs.flatMap((r, i) => r.problems.map((p) => `- ${s.c.id} run ${i + 1}: ${p}`)),
  );
  const markdown = [
    lines.join('\n'),
    '',
    '**Targets** (issues 4 and 12), from the medians above:',
    '',
    '| target | measured | |',
    '|---|--:|:-:|',
    ...targets.map((t) => `| ${t.what} | ${t.measured} | ${t.pass ? '✅' : '❌'} |`),
    ...(problems.length ? ['', 'Failed runs (left out of the medians):', '', ...problems] : []),
  ].join('\n');
  return { markdown, failed: problems.length > 0 };
}

async function describeSetup(
  d: BenchDatabase,
  tableRows: number,
  avgRowBytes: number,
  endpoint: string,
): Promise<string> {
  const version = await serverVersion(d.url);
  const cpu = cpus();
  const n = (x: number) => x.toLocaleString('en');
  const rowFloor = ((avgRowBytes + 1) * 1e6) / CHUNK; // row JSON and its comma, no envelope at all
  return [
    `## bulk-import queue bench, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, Node ${process.version}; client, fauxqs and PostgreSQL share these cores`,
    `- PostgreSQL ${version}${d.embedded ? ' (embedded pglite: single-threaded, slower)' : ''} at ${redact(d.url)}; table ${TABLE}: ${n(tableRows)} rows, ~${avgRowBytes} bytes of JSON each (rows alone, no envelope: ≈ ${n(Math.round(rowFloor))} × 64 KiB per 1M rows)`,
    `- SQS: fauxqs (emulator) in its own process at ${endpoint}; a fresh queue per run, checked after it (queue depth == messages the client reports, drained: rows in the bodies == rows expected), then purged and deleted`,
    `- packed and plain read ${n(opts.rows)} rows${opts.rows < tableRows ? ' (--limit)' : ''}; --rows-per-message 1 reads the first ${n(opts.singleRows)} (--limit): it is about 10 × slower, and fauxqs holds every message`,
    `- bulk-import runs as \`${shebangCommand()} bin/bulk-import.js run --queue … --sqs-endpoint … --no-checkpoint --no-progress --concurrency 16\`; the plain script with node's defaults`,
    `- ${opts.runs} run(s) per contender, interleaved round-robin (start rotated each round); medians of runs that passed the counts check (exit 0, client and queue agree on rows and messages)`,
    "- rows/s over wall time from spawn to exit (start-up included); client CPU (user + sys) and peak RSS from `process.resourceUsage()` / VmHWM in the child (the main bench's rusage preload)",
    "- calls and billed requests: bulk-import's own counters (`--summary-json` queue.calls, queue.billedRequests); the plain script counts its own (Σ ceil(call payload / 64 KiB)). floor = payload bytes drained from the queue (bodies + attributes) / 64 KiB; billed / floor is the median of each run's ratio",
  ].join('\n');
}

const NOISY = 0.1;

function logRun(round: number, id: string, r: QueueRun): void {
  log(
    `round ${round + 1}/${opts.runs}  ${id.padEnd(7)} ${int(r.rowsPerSec).padStart(8)} rows/s  ${int(r.calls).padStart(7)} calls  ${int(r.billed).padStart(7)} billed  ` +
      `floor ${int(r.payloadBytes / CHUNK).padStart(7)}  ${fix(r.cpuPerMillion).padStart(5)} CPU-s/M  ${fix(r.rssMB, 0).padStart(4)} MB  ` +
      `fauxqs ${fix(r.fauxqsCpuPerMillion)} CPU-s/M  foreign ${fix(r.foreignShare * 100, 0)} %${r.problems.length ? `  ✗ ${r.problems.join('; ')}` : ''}`,
  );
}

// ---- main -----------------------------------------------------------------------------------
let db: BenchDatabase | undefined;
let fq: FauxqsProcess | undefined;
try {
  const started = Date.now();
  db = await openBenchDatabase(process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', log);
  const count = async (): Promise<number> => {
    const c = new pg.Client({ connectionString: db!.url });
    await c.connect();
    try {
      const exists =
        (await c.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [TABLE])).rows[0].t !== null;
      return exists ? Number((await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${TABLE}`)).rows[0].n) : 0;
    } finally {
      await c.end();
    }
  };
  let tableRows = await count();
  if (opts.rssScale) {
    // A table of its own: bench_listings is sized (grown and trimmed) by the other benches on
    // this database, which would cut a 5 × N run short or re-seed under it.
    await ensureListings(db.url, SCALE_TABLE, opts.rows * 5, log);
    await warmListings(db.url, SCALE_TABLE);
    const { markdown, failed } = await runQueueRssScale({
      db: db.url,
      table: SCALE_TABLE,
      rows: opts.rows,
      runs: opts.runs,
      log,
    });
    process.stdout.write(
      `\n## bulk-import queue bench --rss-scale, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n${markdown}\n`,
    );
    await db.stop();
    process.exit(failed ? 1 : 0);
  }
  // Grow the table when it is too small; never trim it (the main bench may want it whole): --limit reads a prefix.
  if (tableRows < opts.rows) {
    await ensureListings(db.url, TABLE, opts.rows, log);
    tableRows = opts.rows;
  } else log(`${TABLE}: ${tableRows.toLocaleString('en')} rows, reading ${opts.rows.toLocaleString('en')}`);
  const { avgRowBytes } = await warmListings(db.url, TABLE);
  fq = await startFauxqsProcess(track);
  const header = await describeSetup(db, tableRows, avgRowBytes, fq.endpoint);
  const all = contenders(db.url, fq.endpoint, tableRows);
  const runs = new Map(all.map((c) => [c.id, [] as QueueRun[]]));
  log(`fauxqs at ${fq.endpoint}; ${opts.runs} round(s) of ${all.map((c) => c.id).join(', ')}…`);
  // As the main bench does: a run squeezed by unrelated load on the box is measured again,
  // within a budget of half a round per round, so a busy neighbour costs minutes, not a loop.
  let retriesLeft = Math.ceil((opts.runs * all.length) / 2);
  let remeasured = 0;
  for (let round = 0; round < opts.runs; round++) {
    const k = round % all.length;
    for (const c of [...all.slice(k), ...all.slice(0, k)]) {
      let r = await measureOnce(c, fq);
      logRun(round, c.id, r);
      while (r.foreignShare > NOISY && retriesLeft > 0) {
        retriesLeft--;
        remeasured++;
        r = await measureOnce(c, fq);
        logRun(round, c.id, r);
      }
      runs.get(c.id)?.push(r);
    }
  }
  const { markdown, failed } = report(all.map((c) => summarize(c, runs.get(c.id) ?? [])));
  const note =
    remeasured > 0
      ? `- ${remeasured} run(s) saw more than ${NOISY * 100} % of the machine busy with unrelated work and were measured again (only the last try is in the table)\n`
      : '';
  // The forwarder's side: the Lambda bundle, cold and warm (bench/queue/lambda-cold.ts).
  const lambda = await measureLambdaCold(Math.max(3, opts.runs), log);
  const out = `${header}\n${note}- whole bench took ${((Date.now() - started) / 60_000).toFixed(1)} min\n\n${markdown}\n\n${lambdaColdMarkdown(lambda)}\n`;
  process.stdout.write(`\n${out}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}queue-results-${new Date().toISOString().slice(0, 16).replace(':', '-')}.md`;
  writeFileSync(file, out);
  log(`written to .bench/${file.slice(RESULTS_DIR.length)}`);
  if (failed || lambda.problems.length > 0) process.exitCode = 1;
} catch (err) {
  log(`queue bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await fq?.stop();
  await db?.stop();
}
