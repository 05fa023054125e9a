import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureListings, openBenchDatabase, warmListings } from '../bench-database.js';
import { killAll, removeScratch, runMeasured, scratch } from '../child-processes.js';
import { BIN, shebangEnv, shebangNodeFlags } from '../contenders.js';
import { median } from '../report.js';
import { queueRunArgs } from './run-args.js';
import { startDiscardingSqs } from './sqs-discard.js';

/**
 * `node dist/bench/queue/ab.js [--bin PATH [--env NAME=VALUE]…]… [--plain] [--single] [--rows N] [--runs N]`: an A/B of queue
 * mode's send path, quicker than the full queue bench. Each `--bin` (a bin/bulk-import.js of
 * another build; default this checkout's) runs `run --queue` packed, and `--plain` adds the plain
 * script, interleaved round-robin (start rotated each round), into the SQS stand-in that keeps
 * nothing (sqs-discard.ts): peak RSS (VmHWM), client CPU-s per 1M rows and rows/s of each run.
 * Only the client differs between contenders, so on a shared machine RSS and CPU-s compare well;
 * rows/s less so.
 */
const log = (line: string) => process.stderr.write(`${line}\n`);
process.once('exit', () => {
  killAll();
  removeScratch();
});

const TABLE = 'bench_listings';
const bins: string[] = [];
/** Environment of each --bin (`--env NAME=VALUE` after it), e.g. an allocator setting to compare. */
const envs: Record<string, string>[] = [];
let plain = false;
/** `--single`: the bulk-import contenders run `--rows-per-message 1` (the plain script stays packed). */
let single = false;
let rows = 1_000_000;
let runs = 3;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--bin') {
    bins.push(resolve(String(argv[++i])));
    envs.push({});
  } else if (a === '--env' && envs.length > 0) {
    const [name, ...value] = String(argv[++i]).split('=');
    (envs[envs.length - 1] as Record<string, string>)[name as string] = value.join('=');
  } else if (a === '--plain') plain = true;
  else if (a === '--single') single = true;
  else if (a === '--rows') rows = Number(argv[++i]);
  else if (a === '--runs') runs = Number(argv[++i]);
  else {
    log(
      `usage: node dist/bench/queue/ab.js [--bin PATH [--env NAME=VALUE]…]… [--plain] [--single] [--rows N] [--runs N] (got ${a})`,
    );
    process.exit(2);
  }
}
if (bins.length === 0) bins.push(BIN);

interface Result {
  rss: number[];
  cpu: number[];
  rate: number[];
}

const db = await openBenchDatabase(process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test', log);
const sqs = await startDiscardingSqs();
try {
  // Grown when too small, never trimmed: other benches on this database may want it larger.
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const have = await c
    .query<{ n: string }>(`SELECT count(*)::text AS n FROM ${TABLE}`)
    .then(
      (r) => Number(r.rows[0]?.n),
      () => 0,
    )
    .finally(() => c.end());
  if (have < rows) await ensureListings(db.url, TABLE, rows, log);
  await warmListings(db.url, TABLE);
  const ids = [...bins.map((_, i) => `bin${i}`), ...(plain ? ['plain'] : [])];
  const results = new Map<string, Result>(ids.map((id) => [id, { rss: [], cpu: [], rate: [] }]));
  for (let round = 0; round < runs; round++) {
    const k = round % ids.length;
    for (const id of [...ids.slice(k), ...ids.slice(0, k)]) {
      const before = sqs.counts().rows;
      const summary = join(scratch, `ab-${round}-${id}.json`);
      const bin = id === 'plain' ? undefined : (bins[Number(id.slice(3))] as string);
      // A bin runs with its shebang's environment, and what --env adds.
      const env = bin ? { ...shebangEnv(bin), ...envs[Number(id.slice(3))] } : {};
      const run = bin
        ? await runMeasured(
            shebangNodeFlags(bin),
            bin,
            queueRunArgs({
              db: db.url,
              table: TABLE,
              queueUrl: sqs.queueUrl,
              endpoint: sqs.endpoint,
              summaryFile: summary,
              limit: rows,
              extra: single ? ['--rows-per-message', '1'] : [],
            }),
            60_000 + rows,
            env,
          )
        : await runMeasured(
            [],
            fileURLToPath(new URL('./baseline-plain.js', import.meta.url)),
            [db.url, TABLE, sqs.endpoint, sqs.queueUrl, String(rows)],
            60_000 + rows,
          );
      rmSync(summary, { force: true });
      const got = sqs.counts().rows - before;
      if (run.exitCode !== 0 || !run.rusage || got !== rows) {
        log(`round ${round + 1} ${id}: ✗ exit ${run.exitCode}, the queue took ${got} rows; ${run.stderrTail}`);
        continue;
      }
      const r = results.get(id) as Result;
      const cpu = ((run.rusage.userCPUTime + run.rusage.systemCPUTime) / 1e6 / rows) * 1e6;
      r.rss.push(run.rusage.maxRSS / 1024);
      r.cpu.push(cpu);
      r.rate.push(rows / (run.wallMs / 1000));
      log(
        `round ${round + 1}/${runs} ${id.padEnd(5)} ${(run.rusage.maxRSS / 1024).toFixed(0).padStart(4)} MB  ${cpu.toFixed(2).padStart(6)} CPU-s/M  ${Math.round(rows / (run.wallMs / 1000)).toLocaleString('en')} rows/s`,
      );
    }
  }
  const fmt = (xs: number[], d: number) => `${median(xs).toFixed(d)} (${xs.map((x) => x.toFixed(d)).join(', ')})`;
  process.stdout.write(`\n| contender | peak RSS MB | client CPU-s / 1M rows | rows/s |\n|---|--:|--:|--:|\n`);
  for (const id of ids) {
    const r = results.get(id) as Result;
    const env = Object.entries(envs[Number(id.slice(3))] ?? {}).map(([k, v]) => `${k}=${v} `);
    const label = id === 'plain' ? 'plain script' : `${env.join('')}${bins[Number(id.slice(3))] as string}`;
    process.stdout.write(`| ${label} | ${fmt(r.rss, 0)} | ${fmt(r.cpu, 2)} | ${fmt(r.rate, 0)} |\n`);
  }
} finally {
  await sqs.close();
  await db.stop();
}
