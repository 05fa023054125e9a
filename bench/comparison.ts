import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { scratch } from './child-processes.js';
import { autocannonCeiling, bulkImport, naive, plain, plainSingle, type Contender } from './contenders.js';
import { waitForQuiet } from './host-cpu.js';
import { measure, type Measurement } from './measure.js';
import type { BenchOptions } from './options.js';
import { resultsTable, summarize, targetsTable } from './report.js';
import type { SinkProcess } from './sink-process.js';

/** bulk-import's and the plain script's requests in flight at batch 1. */
const BATCH1_CONCURRENCY = 32;

export interface ComparisonInput {
  readonly opts: BenchOptions;
  readonly db: string;
  /** The embedded database, which runs inside the bench process. */
  readonly embedded: boolean;
  readonly table: string;
  readonly sink: SinkProcess;
  readonly sampleRow: string;
  readonly log: (line: string) => void;
}

/**
 * The contenders in table order; batch 1, its plain script and the naive client read a prefix of
 * the table. `BENCH_ONLY=id,id…` (e.g. `bi-b1-lane,plain-b1`) runs only those, for a quick A/B
 * on a shared machine without the whole ten-minute bench.
 */
export function comparisonContenders(input: ComparisonInput): Contender[] {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  const all = allContenders(input);
  if (!only) return all;
  const unknown = only.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length > 0)
    throw new Error(`BENCH_ONLY: no contender ${unknown.join(', ')} (there are ${all.map((c) => c.id).join(', ')})`);
  return all.filter((c) => only.includes(c.id));
}

function allContenders({ opts, db, table, sink, sampleRow }: ComparisonInput): Contender[] {
  const to = sink.url;
  const subset = (rows: number) => (rows < opts.rows ? { limit: rows } : {});
  const bodyFile = join(scratch, 'one-row.json');
  writeFileSync(bodyFile, sampleRow);
  return [
    bulkImport({ db, table, to, rows: opts.rows, batch: 100, concurrency: 16, sticky: 'lane' }),
    bulkImport({ db, table, to, rows: opts.rows, batch: 100, concurrency: 16, sticky: 'off' }),
    plain(db, table, to, opts.rows),
    bulkImport({
      db,
      table,
      to,
      rows: opts.batch1Rows,
      ...subset(opts.batch1Rows),
      batch: 1,
      concurrency: BATCH1_CONCURRENCY,
      sticky: 'lane',
    }),
    bulkImport({
      db,
      table,
      to,
      rows: opts.batch1Rows,
      ...subset(opts.batch1Rows),
      batch: 1,
      concurrency: BATCH1_CONCURRENCY,
      sticky: 'off',
    }),
    plainSingle(db, table, to, opts.batch1Rows, BATCH1_CONCURRENCY),
    naive(db, table, to, opts.naiveRows),
    autocannonCeiling(to, bodyFile, opts.autocannonSeconds),
  ];
}

/** A run that saw more of the machine busy with unrelated work than this is measured again. */
const NOISY = 0.1;

/**
 * Every contender once per round, in table order and then reversed (A…G, G…A, …): the machine
 * is shared and noisy, and interleaving spreads a slow minute over all contenders instead of
 * one, while the pairs that are compared (lane and off, batch 100 and plain) stay next to each
 * other in time and every contender takes the first and the last slot equally often.
 * Before each run the bench waits (a little, within a budget) for a busy neighbour to calm
 * down, and a run squeezed by foreign load anyway (see host-cpu.ts) is measured once more,
 * also within a budget: a busy box costs minutes, never an unbounded loop.
 */
export async function runComparison(input: ComparisonInput): Promise<{ markdown: string; failed: boolean }> {
  const { opts, sink, log } = input;
  const contenders = comparisonContenders(input);
  const runs = new Map<string, Measurement[]>(contenders.map((c) => [c.id, []]));
  let retriesLeft = Math.ceil((opts.runs * contenders.length) / 3);
  let waitLeftMs = opts.quick ? 10_000 : 180_000;
  let remeasured = 0;
  let waitedMs = 0;
  const quietThenMeasure = async (c: Contender): Promise<Measurement> => {
    const waited = await waitForQuiet(NOISY, Math.min(20_000, waitLeftMs), availableParallelism());
    waitLeftMs -= waited;
    waitedMs += waited;
    return measure(c, sink, input.embedded);
  };
  for (let round = 0; round < opts.runs; round++) {
    for (const c of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      let m = await quietThenMeasure(c);
      logRun(log, round, opts.runs, c.id, m);
      if (m.foreignShare > NOISY && retriesLeft > 0) {
        retriesLeft--;
        remeasured++;
        m = await quietThenMeasure(c);
        logRun(log, round, opts.runs, c.id, m);
      }
      runs.get(c.id)?.push(m);
    }
  }
  const summaries = contenders.map((c) => summarize(c, runs.get(c.id) ?? []));
  const failed = summaries.some((s) => s.good < s.runs.length);
  const note =
    `\n\nNoise: waited ${(waitedMs / 1000).toFixed(0)} s in all for the machine to be quiet (< ${NOISY * 100} % busy) before runs; ` +
    `${remeasured} run(s) that saw more foreign load than that were measured once more (the first try is not in the table).`;
  const markdown = [
    resultsTable(summaries) + note,
    '',
    '**Targets** (issues 2 and 12), from the medians above:',
    '',
    targetsTable(summaries, opts.rows),
  ].join('\n');
  return { markdown, failed };
}

function logRun(log: (line: string) => void, round: number, rounds: number, id: string, m: Measurement): void {
  const n = (x: number) => Math.round(x).toLocaleString('en');
  log(
    `round ${round + 1}/${rounds}  ${id.padEnd(12)} ${n(m.rowsPerSec).padStart(8)} rows/s ${n(m.requestsPerSec).padStart(7)} req/s  ` +
      `${m.cpuPerMillion.toFixed(1).padStart(5)} CPU-s/M  ${m.rssMB.toFixed(0).padStart(4)} MB  foreign ${Math.round(m.foreignShare * 100)} %` +
      `${m.problems.length ? `  ✗ ${m.problems.join('; ')}` : ''}`,
  );
}
