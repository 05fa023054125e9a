import { BIN, shebangEnv, shebangNodeFlags } from '../contenders.js';

/**
 * What the adaptive bench runs. The API: k workers × SERVICE_MS each, a FIFO queue of k more
 * (so 2k in flight fill it, and a fixed 4k gets 503s), for knees k = 8, 32 and 128.
 *
 * Why these numbers: the client must never be the bottleneck, or the bench would measure the
 * client's CPU instead of the limiter. At the knee the API answers k / SERVICE_MS requests a second,
 * k / SERVICE_MS × BATCH rows: 128 / 0.04 s = 3,200 requests/s = 32,000 rows/s for the largest knee,
 * about a tenth of what bulk-import sends to a fast sink on this 2-core box at batch 1 (~28,000
 * requests/s) and batch 100 (~190,000 rows/s). SERVICE_MS of 40 keeps the timers' ~1 ms jitter
 * small against the latency judged.
 */
export const SERVICE_MS = 40;
export const BATCH = 10;
export const KNEES = [8, 32, 128] as const;
export const MAX_CONCURRENCY = 256;

export interface AdaptiveContender {
  readonly id: string;
  readonly label: string;
  readonly knee: number;
  /** A fixed concurrency, or 'auto'. */
  readonly concurrency: number | 'auto';
  readonly rows: number;
  readonly timeoutMs: number;
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly script: string;
  args(summaryFile: string): string[];
}

/** Rows a second the API can take at `inFlight` (the knee caps it). */
export const apiRowsPerSec = (knee: number, inFlight: number) => (Math.min(inFlight, knee) * 1000 * BATCH) / SERVICE_MS;

/**
 * The contenders of one knee: fixed knee/2, knee, 2 × knee, 4 × knee, and auto. Each gets about
 * `seconds` of work at the rate the API allows it (auto: the knee's rate), so every run is long
 * enough to reach its steady state (auto's ramp-up is inside it) and none dominates the bench's
 * time; 4 × knee gets a third of that, as its 503s and retry backoffs cut its rate to about a third
 * (measured). Below knee/2 nothing new is learned: rows/s falls in proportion.
 */
export function contendersFor(
  knee: number,
  seconds: number,
  db: string,
  table: string,
  to: string,
): AdaptiveContender[] {
  const fixed = [knee / 2, knee, knee * 2, knee * 4];
  const make = (concurrency: number | 'auto'): AdaptiveContender => {
    const overrun = concurrency !== 'auto' && concurrency >= knee * 4 ? 3 : 1;
    const rate = apiRowsPerSec(knee, concurrency === 'auto' ? knee : concurrency) / overrun;
    const rows = Math.max(BATCH, Math.round((rate * seconds) / BATCH) * BATCH);
    const limiter =
      concurrency === 'auto'
        ? ['--concurrency', 'auto', '--max-concurrency', String(MAX_CONCURRENCY)]
        : ['--concurrency', String(concurrency)];
    return {
      id: `k${knee}-${concurrency}`,
      label:
        concurrency === 'auto'
          ? `auto (max ${MAX_CONCURRENCY})`
          : `fixed ${concurrency}${concurrency === knee ? ' (the knee)' : ''}`,
      knee,
      concurrency,
      rows,
      // Generous: a fixed 4 × knee waits out retry backoffs; still bounded.
      timeoutMs: 60_000 + seconds * 10_000,
      nodeArgs: shebangNodeFlags(),
      env: shebangEnv(),
      script: BIN,
      args: (summaryFile) => [
        'run',
        '--from',
        db,
        '--table',
        table,
        '--to',
        to,
        '--limit',
        String(rows),
        '--batch-size',
        String(BATCH),
        ...limiter,
        '--no-progress',
        '--no-checkpoint',
        '--summary-json',
        summaryFile,
      ],
    };
  };
  return [...fixed.map(make), make('auto')];
}
