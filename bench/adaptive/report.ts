import { median } from '../report.js';
import type { AdaptiveMeasurement } from './measure.js';
import type { AdaptiveContender } from './plan.js';

/** A contender's medians over its runs that delivered every row. */
export interface AdaptiveSummary {
  readonly contender: AdaptiveContender;
  readonly runs: AdaptiveMeasurement[];
  readonly good: number;
  readonly rowsPerSec: number;
  readonly wallRowsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly refusedShare: number;
  readonly meanInFlight: number;
  readonly clientCores: number;
  readonly limitMedian: number;
}

export function summarizeAdaptive(contender: AdaptiveContender, runs: AdaptiveMeasurement[]): AdaptiveSummary {
  const ok = runs.filter((m) => m.problems.length === 0);
  const med = (f: (m: AdaptiveMeasurement) => number | undefined) => median(ok.map((m) => f(m) ?? Number.NaN));
  return {
    contender,
    runs,
    good: ok.length,
    rowsPerSec: med((m) => m.rowsPerSec),
    wallRowsPerSec: med((m) => m.wallRowsPerSec),
    p50Ms: med((m) => m.p50Ms),
    p99Ms: med((m) => m.p99Ms),
    refusedShare: med((m) => m.refusedShare),
    meanInFlight: med((m) => m.meanInFlight),
    clientCores: med((m) => m.clientCores),
    limitMedian: med((m) => m.limitMedian),
  };
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '–');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const pct = (x: number, d = 2) => (Number.isFinite(x) ? `${(x * 100).toFixed(d)} %` : '–');

/** min–max of a figure over the good runs: the spread a median hides. */
function spread(s: AdaptiveSummary, f: (m: AdaptiveMeasurement) => number, show: (x: number) => string): string {
  const xs = s.runs.filter((m) => m.problems.length === 0).map(f);
  if (xs.length < 2) return '';
  return ` (${show(Math.min(...xs))}–${show(Math.max(...xs))})`;
}

/** One knee's table: every contender's medians, spreads in brackets. */
export function kneeTable(all: readonly AdaptiveSummary[]): string {
  const lines = [
    '| contender | rows/s (min–max) | mean in flight at the API | p50 ms | p99 ms (min–max) | 503 % | client CPU (cores) | runs ok |',
    '|---|--:|--:|--:|--:|--:|--:|:-:|',
  ];
  for (const s of all) {
    const c = s.contender;
    const label = c.concurrency === 'auto' ? `**${c.label}**, limit median ${int(s.limitMedian)}` : c.label;
    const check = s.good === s.runs.length ? `✅ ${s.good}/${s.runs.length}` : `❌ ${s.good}/${s.runs.length}`;
    lines.push(
      `| ${label} | ${int(s.rowsPerSec)}${spread(s, (m) => m.rowsPerSec, int)} | ${s.meanInFlight.toFixed(1)} | ${ms(s.p50Ms)} | ` +
        `${ms(s.p99Ms)}${spread(s, (m) => m.p99Ms, ms)} | ${pct(s.refusedShare)} | ${s.clientCores.toFixed(2)} | ${check} |`,
    );
  }
  return lines.join('\n');
}

export interface KneeVerdict {
  readonly markdown: string;
  readonly pass: boolean;
}

/**
 * The three targets for one knee, judged on the medians of the same bench run: auto's
 * rows/s ≥ 90 % of the best fixed concurrency's, auto's p99 ≤ 1.5 × the p99 of the fixed setting
 * at the knee, and ≤ 1 % of auto's requests refused.
 */
export function kneeTargets(knee: number, all: readonly AdaptiveSummary[]): KneeVerdict {
  const auto = all.find((s) => s.contender.concurrency === 'auto');
  const fixed = all.filter((s) => s.contender.concurrency !== 'auto' && s.good > 0);
  const best = fixed.reduce<AdaptiveSummary | undefined>(
    (b, s) => (b === undefined || s.rowsPerSec > b.rowsPerSec ? s : b),
    undefined,
  );
  const atKnee = fixed.find((s) => s.contender.concurrency === knee);
  const rate = auto && best ? auto.rowsPerSec / best.rowsPerSec : Number.NaN;
  const p99 = auto && atKnee ? auto.p99Ms / atKnee.p99Ms : Number.NaN;
  const refused = auto?.refusedShare ?? Number.NaN;
  const rows = [
    {
      what: 'auto rows/s ≥ 90 % of the best fixed',
      measured: `${pct(rate, 0)} (${int(auto?.rowsPerSec ?? Number.NaN)} / ${int(best?.rowsPerSec ?? Number.NaN)}, ${best?.contender.label ?? '–'})`,
      pass: rate >= 0.9,
    },
    {
      what: 'auto p99 ≤ 1.5 × p99 of the fixed knee',
      measured: `${Number.isFinite(p99) ? p99.toFixed(2) : '–'} × (${ms(auto?.p99Ms ?? Number.NaN)} / ${ms(atKnee?.p99Ms ?? Number.NaN)} ms)`,
      pass: p99 <= 1.5,
    },
    { what: 'auto 503s ≤ 1 %', measured: pct(refused), pass: refused <= 0.01 },
  ];
  const allRuns = auto !== undefined && auto.good === auto.runs.length;
  return {
    markdown: [
      `| knee ${knee}: target | measured (medians) | |`,
      '|---|--:|:-:|',
      ...rows.map((r) => `| ${r.what} | ${r.measured} | ${r.pass ? '✅' : '❌'} |`),
    ].join('\n'),
    pass: allRuns && rows.every((r) => r.pass),
  };
}
