import { KNEE_SHARE, STOP_ERROR_RATE } from './knee.js';
import type { ProbeResult, ProbeStep, ProbeStop } from './run-probe.js';

/** probe's printed report: the table, the knees, the stickiness verdict, and what was sent. */

const ms = (v: number | undefined) => (v === undefined ? '–' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

const STOPS: Record<ProbeStop, string> = {
  done: '',
  rows: 'its --rows were used up',
  time: '--max-time was reached',
  'table end': 'the table has no more rows',
  interrupted: 'it was interrupted',
};

/** One step as a progress line (stderr, while the probe runs). */
export function stepLine(s: ProbeStep): string {
  return (
    `  batch ${s.batchSize}, sticky ${s.sticky}, ${s.concurrency} in flight: ${Math.round(s.rowsPerSec)} rows/s, ` +
    `p50 ${ms(s.p50Ms)} ms, p99 ${ms(s.p99Ms)} ms, ${pct(s.errorRate)} overload (${s.rows} rows)`
  );
}

/** The table of every step, columns aligned. */
export function stepTable(steps: readonly ProbeStep[]): string[] {
  const head = ['batch', 'sticky', 'concurrency', 'rows', 'rows/s', 'p50 ms', 'p99 ms', 'overload'];
  const rows = steps.map((s) => [
    String(s.batchSize),
    s.sticky,
    String(s.concurrency),
    String(s.rows),
    String(Math.round(s.rowsPerSec)),
    ms(s.p50Ms),
    ms(s.p99Ms),
    pct(s.errorRate),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(head), ...rows.map(line)];
}

/** Everything after the table, `command` being the `run` line to use (secrets masked by the caller). */
export function verdictLines(r: ProbeResult, command: string | undefined): string[] {
  const out: string[] = [
    '(rows/s: rows the API took per second of the step; p50/p99: latency of its answers;' +
      ' overload: 429, 502–504, timeouts and connection errors per request)',
  ];
  const sizes = new Set(r.sweeps.map((s) => s.batchSize));
  out.push(`knee (the smallest concurrency with ≥ ${KNEE_SHARE * 100} % of the best rows/s):`);
  for (const s of r.sweeps) {
    const size = sizes.size > 1 ? `batch ${s.batchSize}, ` : '';
    const why =
      s.stoppedBy === 'errors'
        ? `; stopped: over ${STOP_ERROR_RATE * 100} % overload answers`
        : s.stoppedBy === 'flat'
          ? '; stopped: rows/s stopped rising'
          : s.stoppedBy === 'max concurrency'
            ? '; reached --max-concurrency'
            : '';
    const knee = s.knee === undefined ? 'none (nothing delivered)' : String(s.knee);
    out.push(`  ${size}sticky ${s.sticky}: ${knee} (best ${Math.round(s.bestRowsPerSec)} rows/s${why})`);
  }
  for (const v of r.stickiness) {
    const size = sizes.size > 1 ? ` (batch ${v.batchSize})` : '';
    const ratio = Number.isFinite(v.ratio) ? `${v.ratio.toFixed(2)}×` : 'all';
    out.push(
      v.matters
        ? `stickiness matters${size}: sticky ${v.better} gives ${ratio} the rows/s of sticky ${v.worse}`
        : `stickiness does not matter${size}: sticky ${v.better} and ${v.worse} are within ${Math.round((v.ratio - 1) * 100)} %`,
    );
  }
  if (command) out.push('use:', `  ${command}`);
  if (r.stoppedBy !== 'done') {
    const hint =
      r.stoppedBy === 'rows'
        ? ` (every step takes at least three rounds of its lanes: all of them take about ${r.fullSweepRows} rows;` +
          ' raise --rows or lower --max-concurrency)'
        : '';
    out.push(`probe stopped early: ${STOPS[r.stoppedBy]}${hint}; the table holds the steps it ran`);
  }
  out.push(sentLine(r));
  return out;
}

/** The rows probe sent are real: say so, and whether a later run's re-send of them is idempotent. */
export function sentLine(r: ProbeResult): string {
  const { rows, delivered, failed, firstKey, lastKey } = r.sent;
  if (rows === 0) return 'no rows were sent.';
  const keys = firstKey && lastKey ? ` (keys ${firstKey.join(',')} … ${lastKey.join(',')})` : '';
  const size = r.sweeps[0]?.batchSize;
  const also = new Set(r.sweeps.map((s) => s.batchSize)).size > 1 ? ' (the first batch size’s rows)' : '';
  return (
    `${rows} real rows were sent${keys}: ${delivered} taken by the API, ${failed} not. ` +
    `A run with the same source, key, where, --to, --method and --batch-size ${size} sends them again ` +
    `with the same Idempotency-Key values${also}; probe wrote no checkpoint.`
  );
}
