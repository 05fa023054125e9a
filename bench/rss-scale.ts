import { bulkImport } from './contenders.js';
import { measure, type Measurement } from './measure.js';
import type { BenchOptions } from './options.js';
import { median } from './report.js';
import type { SinkProcess } from './sink-process.js';

export interface RssScaleInput {
  readonly opts: BenchOptions;
  readonly db: string;
  readonly embedded: boolean;
  /** Tables of N and 5 × N rows. */
  readonly tables: readonly [string, string];
  readonly sink: SinkProcess;
  readonly log: (line: string) => void;
}

/**
 * Memory must not grow with the table: bulk-import batch 100 (lane) over N and over 5 × N rows,
 * interleaved, and the peak RSS of each. Flat means the 5 × N median within ±20 % of the N one.
 */
export async function runRssScale({
  opts,
  db,
  embedded,
  tables,
  sink,
  log,
}: RssScaleInput): Promise<{ markdown: string; failed: boolean }> {
  const sizes = [opts.rows, opts.rows * 5];
  const contenders = tables.map((table, i) =>
    bulkImport({ db, table, to: sink.url, rows: sizes[i], batch: 100, concurrency: 16, sticky: 'lane' }),
  );
  const runs: Measurement[][] = contenders.map(() => []);
  for (let round = 0; round < opts.runs; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const m = await measure(contenders[i], sink, embedded);
      runs[i].push(m);
      log(
        `round ${round + 1}/${opts.runs}  ${sizes[i].toLocaleString('en').padStart(10)} rows  ${Math.round(m.rowsPerSec).toLocaleString('en')} rows/s  ` +
          `${m.rssMB.toFixed(0)} MB  foreign ${Math.round(m.foreignShare * 100)} %${m.problems.length ? `  ✗ ${m.problems.join('; ')}` : ''}`,
      );
    }
  }
  const ok = runs.map((rs) => rs.filter((m) => m.problems.length === 0));
  const rss = ok.map((rs) => median(rs.map((m) => m.rssMB)));
  const lines = [
    '| bulk-import batch 100, --sticky lane, concurrency 16 | rows/s (median) | client CPU s / 1M rows | peak RSS MB (median) | peak RSS MB of each run | counts check |',
    '|---|--:|--:|--:|---|:-:|',
    ...contenders.map(
      (_, i) =>
        `| ${tables[i]}: ${sizes[i].toLocaleString('en')} rows | ${Math.round(median(ok[i].map((m) => m.rowsPerSec))).toLocaleString('en')} | ` +
        `${median(ok[i].map((m) => m.cpuPerMillion)).toFixed(1)} | ${rss[i].toFixed(0)} | ${runs[i].map((m) => m.rssMB.toFixed(0)).join(', ')} | ` +
        `${ok[i].length === runs[i].length ? '✅' : '❌'} ${ok[i].length}/${runs[i].length} |`,
    ),
  ];
  const change = rss[1] / rss[0] - 1;
  const flat = Math.abs(change) <= 0.2;
  lines.push(
    '',
    `Peak RSS at ${sizes[1].toLocaleString('en')} rows is ${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)} % of that at ${sizes[0].toLocaleString('en')} rows ` +
      `(target within ±20 %): ${flat ? '✅' : '❌'}; at ${sizes[0].toLocaleString('en')} rows ≤ 150 MB: ${rss[0] <= 150 ? '✅' : '❌'}`,
  );
  return { markdown: lines.join('\n'), failed: ok.some((rs, i) => rs.length < runs[i].length) };
}
