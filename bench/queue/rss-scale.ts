import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured, scratch } from '../child-processes.js';
import { BIN, shebangEnv, shebangNodeFlags } from '../contenders.js';
import { median } from '../report.js';
import { queueRunArgs } from './run-args.js';
import { startDiscardingSqs } from './sqs-discard.js';

/**
 * Queue mode's memory must not grow with the table (issue 12: within 5 % at 5 × N): `run --queue`
 * packed over N and 5 × N rows, interleaved, into an SQS stand-in that keeps nothing (fauxqs would
 * hold every message), peak RSS of each. The table must hold 5 × N rows (the caller grows it).
 */
export async function runQueueRssScale(input: {
  db: string;
  table: string;
  rows: number;
  runs: number;
  log: (line: string) => void;
}): Promise<{ markdown: string; failed: boolean }> {
  const { db, table, rows, runs, log } = input;
  const sqs = await startDiscardingSqs();
  const sizes = [rows, rows * 5];
  const rss: number[][] = [[], []];
  const rate: number[][] = [[], []];
  const problems: string[] = [];
  try {
    for (let round = 0; round < runs; round++) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const n = sizes[i] as number;
        const summary = join(scratch, `rss-scale-${round}-${i}.json`);
        const before = sqs.counts().rows;
        const args = queueRunArgs({
          db,
          table,
          queueUrl: sqs.queueUrl,
          endpoint: sqs.endpoint,
          summaryFile: summary,
          limit: n,
        });
        const run = await runMeasured(shebangNodeFlags(), BIN, args, 60_000 + n, shebangEnv());
        const got = sqs.counts().rows - before;
        let delivered = NaN;
        try {
          delivered = (JSON.parse(readFileSync(summary, 'utf8')) as { thisRun: { delivered: number } }).thisRun
            .delivered;
          rmSync(summary);
        } catch {
          /* reported below */
        }
        if (run.exitCode !== 0 || !run.rusage || got !== n || delivered !== n) {
          problems.push(
            `${n} rows, round ${round + 1}: exit ${run.exitCode}, enqueued ${delivered}, the queue took ${got}`,
          );
          continue;
        }
        const mb = run.rusage.maxRSS / 1024;
        rss[i]?.push(mb);
        rate[i]?.push(n / (run.wallMs / 1000));
        log(
          `queue rss-scale round ${round + 1}/${runs}  ${n.toLocaleString('en').padStart(10)} rows  ${mb.toFixed(0)} MB`,
        );
      }
    }
  } finally {
    await sqs.close();
  }
  const med = rss.map((xs) => median(xs));
  const change = (med[1] as number) / (med[0] as number) - 1;
  const flat = Math.abs(change) <= 0.05;
  const lines = [
    '| `run --queue`, packed, concurrency 16, into an SQS stand-in that keeps nothing | rows/s (median) | peak RSS MB (median) | peak RSS MB of each run |',
    '|---|--:|--:|---|',
    ...sizes.map(
      (n, i) =>
        `| ${n.toLocaleString('en')} rows | ${Math.round(median(rate[i] ?? [])).toLocaleString('en')} | ${(med[i] as number).toFixed(0)} | ${(rss[i] ?? []).map((x) => x.toFixed(0)).join(', ')} |`,
    ),
    '',
    `Peak RSS at ${(sizes[1] as number).toLocaleString('en')} rows is ${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)} % of that at ${rows.toLocaleString('en')} ` +
      `(target within 5 %): ${flat ? '✅' : '❌'}; at ${rows.toLocaleString('en')} rows ≤ 150 MB: ${(med[0] as number) <= 150 ? '✅' : '❌'}`,
    ...(problems.length ? ['', 'Failed runs:', '', ...problems.map((p) => `- ${p}`)] : []),
  ];
  return { markdown: lines.join('\n'), failed: problems.length > 0 };
}
