/** The bench's own flags: `node dist/bench/main.js [--rows N] [--runs N] [--quick] [--rss-scale] [--profile] [--adaptive [--seconds N]]`. */

export type SinkFront = 'alb' | 'none';

export interface BenchOptions {
  /** Rows in `bench_listings`; batch-100 contenders read all of them. */
  readonly rows: number;
  readonly runs: number;
  /** Subsets, in rows, for the contenders too slow to read the whole table in time. */
  readonly batch1Rows: number;
  readonly naiveRows: number;
  readonly autocannonSeconds: number;
  readonly quick: boolean;
  readonly rssScale: boolean;
  readonly profile: boolean;
  /** Only the adaptive-concurrency bench (bench/adaptive/): `--concurrency auto` against fixed ones on a capacity-model API. */
  readonly adaptive: boolean;
  /** --adaptive: seconds of work each run gets at the rate the API allows it. */
  readonly adaptiveSeconds: number;
  /** `alb`: the sink sits behind the ALB simulator, so every answer sets AWSALB + AWSALBCORS. */
  readonly front: SinkFront;
  readonly databaseUrl: string;
}

const USAGE = `usage: node dist/bench/main.js [--rows N] [--runs N] [--quick] [--rss-scale] [--profile] [--adaptive [--seconds N]] [--front alb|none]
  --rows N       rows in bench_listings (default 1,000,000; --quick: 100,000)
  --runs N       runs per contender, interleaved; medians are reported (default 5: the box is shared and noisy; --quick: 1;
                 --adaptive: 3)
  --quick        a smoke check: fewer rows, one run, short autocannon
  --rss-scale    only: bulk-import batch 100 on N and on 5 × N rows, peak RSS of each
  --profile      only: one bulk-import batch-100 lane run with --cpu-prof, top self-time functions
  --adaptive     only: --concurrency auto against fixed concurrencies on a capacity-model API with knees at 8, 32
                 and 128 in flight (~8 min; with --quick ~2 min); --rows and --front do not apply
  --seconds N    --adaptive: seconds of work per run at the rate the API allows (default 7; --quick: 3): the
                 first second of a run is start-up, a larger share of a short run than of an import
  --front        alb (default): sink behind the sticky-balancer simulator (cookies on every answer); none: bare sink
  env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)`;

export function parseBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') throw new UsageError(USAGE);
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    const takesValue = a === '--rows' || a === '--runs' || a === '--front' || a === '--seconds';
    if (takesValue) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      flags.set(a, v);
    } else if (a === '--quick' || a === '--rss-scale' || a === '--profile' || a === '--adaptive') flags.set(a, true);
    else throw new UsageError(`unknown flag ${a}\n${USAGE}`);
  }
  const quick = flags.has('--quick');
  const adaptive = flags.has('--adaptive');
  const rows = count(flags.get('--rows'), '--rows', quick ? 100_000 : 1_000_000);
  // The adaptive bench runs 18 contenders a round; 3 rounds keep it within ~8 minutes.
  const runs = count(flags.get('--runs'), '--runs', quick ? 1 : adaptive ? 3 : 5);
  if (flags.has('--seconds') && !adaptive) throw new UsageError(`--seconds applies to --adaptive only\n${USAGE}`);
  const adaptiveSeconds = count(flags.get('--seconds'), '--seconds', quick ? 3 : 7);
  const front = flags.get('--front') ?? 'alb';
  if (front !== 'alb' && front !== 'none')
    throw new UsageError(`--front must be alb or none (got ${JSON.stringify(front)})`);
  return {
    rows,
    runs,
    // Batch 1 runs near 10k requests/s and the naive client near 3k rows/s: subsets keep a run
    // to ~20 s and ~10 s, which is enough to reach a steady rate.
    batch1Rows: Math.min(rows, quick ? 30_000 : 200_000),
    naiveRows: Math.min(rows, quick ? 6_000 : 30_000),
    autocannonSeconds: quick ? 3 : 10,
    quick,
    rssScale: flags.has('--rss-scale'),
    profile: flags.has('--profile'),
    adaptive,
    adaptiveSeconds,
    front,
    databaseUrl: env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
  };
}

export class UsageError extends Error {}

function count(v: string | true | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(String(v).replaceAll('_', ''));
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} must be a whole number ≥ 1 (got ${JSON.stringify(v)})`);
  return n;
}
