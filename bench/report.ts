import type { Contender } from './contenders.js';
import type { Measurement } from './measure.js';

/** Medians over a contender's runs that passed the counts check. */
/** A contender's medians over its good runs. */
export interface Summary
  extends Pick<
    Measurement,
    | 'rows'
    | 'rowsPerSec'
    | 'requestsPerSec'
    | 'cpuPerMillion'
    | 'rssMB'
    | 'sinkCpuPerMillion'
    | 'dbCpuPerMillion'
    | 'foreignShare'
  > {
  readonly contender: Contender;
  readonly runs: Measurement[];
  readonly good: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(contender: Contender, runs: Measurement[]): Summary {
  const ok = runs.filter((m) => m.problems.length === 0);
  const med = (f: (m: Measurement) => number) => median(ok.map(f));
  return {
    contender,
    runs,
    good: ok.length,
    rows: med((m) => m.rows),
    rowsPerSec: med((m) => m.rowsPerSec),
    requestsPerSec: med((m) => m.requestsPerSec),
    cpuPerMillion: med((m) => m.cpuPerMillion),
    rssMB: med((m) => m.rssMB),
    sinkCpuPerMillion: med((m) => m.sinkCpuPerMillion),
    dbCpuPerMillion: med((m) => m.dbCpuPerMillion),
    foreignShare: med((m) => m.foreignShare),
  };
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '–');
const fix = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–');
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} ×` : '–');

/** The side-by-side table; ratios are of medians, taken from this same run. */
export function resultsTable(all: readonly Summary[]): string {
  const byId = new Map(all.map((s) => [s.contender.id, s]));
  const plainRate = byId.get('plain')?.rowsPerSec ?? NaN;
  // One row a request is compared with the plain script that sends one row a request, when it ran.
  const plainB1Rate = byId.get('plain-b1')?.rowsPerSec ?? plainRate;
  const naiveRate = byId.get('naive')?.rowsPerSec ?? NaN;
  const cannon = byId.get('autocannon')?.requestsPerSec ?? NaN;
  const lines = [
    '| contender | rows | rows/s | requests/s | client CPU s / 1M rows | client CPU µs / request | peak RSS MB | × plain (rows/s; one row a request: × the batch-1 script) | × naive (rows/s) | × autocannon (req/s) | sink CPU s / 1M rows | PostgreSQL CPU s / 1M rows | foreign load | counts check | rows/s of each run |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|---|',
  ];
  for (const s of all) {
    const c = s.contender;
    const batch1 = isBatch1(c);
    const vsPlain = batch1 || c.id === 'plain-b1' || c.kind === 'naive' ? plainB1Rate : plainRate;
    const perRequest = s.rows > 0 && s.requestsPerSec > 0 ? s.cpuPerMillion * (s.rowsPerSec / s.requestsPerSec) : NaN;
    const check = s.good === s.runs.length ? `✅ ${s.good}/${s.runs.length}` : `❌ ${s.good}/${s.runs.length}`;
    lines.push(
      `| ${c.label} | ${int(s.rows)} | ${int(s.rowsPerSec)} | ${int(s.requestsPerSec)} | ${fix(s.cpuPerMillion)} | ${c.kind === 'autocannon' ? '–' : fix(perRequest)} | ${fix(s.rssMB, 0)} | ` +
        `${c.kind === 'autocannon' ? '–' : times(s.rowsPerSec / vsPlain)} | ${c.kind === 'autocannon' ? '–' : times(s.rowsPerSec / naiveRate)} | ` +
        `${batch1 ? times(s.requestsPerSec / cannon) : '–'} | ${fix(s.sinkCpuPerMillion)} | ${fix(s.dbCpuPerMillion)} | ${pct(s.foreignShare)} | ${check} | ${s.runs.map((m) => int(m.rowsPerSec)).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

/** bulk-import at --batch-size 1. */
function isBatch1(c: Contender): boolean {
  return (
    c.kind === 'bulk-import' && c.args.includes('--batch-size') && c.args[c.args.indexOf('--batch-size') + 1] === '1'
  );
}

interface Target {
  readonly what: string;
  readonly measured: string;
  readonly paired: string;
  readonly pass: boolean;
}

/** The targets, judged on the medians above. */
export function targetsTable(all: readonly Summary[], fullRows: number): string {
  const get = (id: string) => all.find((s) => s.contender.id === id);
  const b100 = get('bi-b100-lane');
  const b100off = get('bi-b100-off');
  const b1 = get('bi-b1-lane');
  const b1off = get('bi-b1-off');
  const plain = get('plain');
  const plainB1 = get('plain-b1');
  const naive = get('naive');
  const cannon = get('autocannon');
  const targets: Target[] = [];
  const ratio = (
    what: string,
    a: Summary | undefined,
    b: Summary | undefined,
    rate: (s: Summary | Measurement) => number,
    min: number,
    /** For costs: the ratio must stay at or under `min`. */
    atMost = false,
  ) => {
    const r = a && b ? rate(a) / rate(b) : NaN;
    const fmt = atMost ? (x: number) => fix(x) : int;
    targets.push({
      what,
      measured: `${times(r)} (${fmt(a ? rate(a) : NaN)} / ${fmt(b ? rate(b) : NaN)})`,
      paired: pairedRatio(a, b, rate),
      pass: atMost ? r <= min : r >= min,
    });
  };
  const rows = (s: Summary | Measurement) => s.rowsPerSec;
  const reqs = (s: Summary | Measurement) => s.requestsPerSec;
  const cpuPerRow = (s: Summary | Measurement) => s.cpuPerMillion;
  ratio('batch 100, lane: rows/s ≥ 2.0 × plain script (issue 12; issue 2 asked 1.8)', b100, plain, rows, 2.0);
  const cpu = b100?.cpuPerMillion ?? NaN;
  targets.push({
    what: 'batch 100, lane: ≤ 7 client CPU-s per 1M rows',
    measured: `${fix(cpu)} s`,
    paired: '',
    pass: cpu <= 7,
  });
  ratio('batch 1, lane: rows/s ≥ 0.9 × the plain batch-1 script', b1, plainB1, rows, 0.9);
  ratio(
    'batch 1, lane: client CPU per request ≤ 1.3 × the plain batch-1 script’s (µs)',
    b1,
    plainB1,
    cpuPerRow,
    1.3,
    true,
  );
  ratio('batch 1, lane: requests/s ≥ 0.75 × autocannon (issue 2)', b1, cannon, reqs, 0.75);
  ratio('batch 1, lane: rows/s ≥ 3 × naive client', b1, naive, rows, 3);
  ratio('batch 1: --sticky lane ≥ 0.95 × --sticky off (rows/s)', b1, b1off, rows, 0.95);
  const worst = Math.max(b100?.rssMB ?? NaN, b100off?.rssMB ?? NaN);
  const at = fullRows === 1_000_000 ? 'at 1M rows' : `at ${int(fullRows)} rows (the target is stated for 1M)`;
  targets.push({
    what: `peak RSS ≤ 150 MB ${at}, batch 100 (worse of lane and off)`,
    measured: `${fix(worst, 0)} MB`,
    paired: '',
    pass: worst <= 150,
  });
  return [
    '| target | ratio of medians (the verdict) | | per-round ratios, median (min–max) |',
    '|---|--:|:-:|--:|',
    ...targets.map((t) => `| ${t.what} | ${t.measured} | ${t.pass ? '✅' : '❌'} | ${t.paired} |`),
  ].join('\n');
}

/**
 * The ratio within each round (runs minutes apart at most), then its median: a second view that
 * a slow phase of the machine, which hits both sides of a pair, mostly cancels out of.
 */
function pairedRatio(a: Summary | undefined, b: Summary | undefined, rate: (m: Measurement) => number): string {
  if (!a || !b) return '–';
  const rs = a.runs
    .map((m, i) =>
      b.runs[i] && m.problems.length === 0 && b.runs[i].problems.length === 0 ? rate(m) / rate(b.runs[i]) : NaN,
    )
    .filter(Number.isFinite);
  return rs.length ? `${times(median(rs))} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})` : '–';
}
