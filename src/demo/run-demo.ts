import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStickyBalancer, type StickyBalancer } from './sandbox/sticky-balancer.js';
import { Children, runCliChild, startDatabaseChild } from './child-processes.js';
import { describeSpread, indent, laneSpread } from './lane-report.js';
import type { Outcome } from '../cli/exit-codes.js';

export interface DemoOptions {
  readonly rows: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly serve: boolean;
  /** Also run (or, with serve, set up) the queue path: SQS emulator + `forward`. */
  readonly queue: boolean;
  readonly signal: AbortSignal;
  readonly out: (line: string) => void;
}

export interface DemoContext {
  readonly dbUrl: string;
  readonly api: StickyBalancer;
  readonly dir: string;
  readonly children: Children;
  readonly opts: DemoOptions;
  /** Registers a cleanup that runs however the demo ends. */
  onStop(cleanup: () => Promise<void>): void;
}

/** What the demo's API does on each backend: a little work, and a session for a cookieless caller. */
const API = { latencyMs: 5, sessionSetupMs: 25 };

/**
 * The main job end to end on embedded parts: PostgreSQL (pglite, in a child process) → the real
 * `bulk-import run` → three API backends behind a sticky balancer. Every process it starts is
 * stopped and its temp folder removed, whichever way it ends.
 */
export async function runDemo(opts: DemoOptions): Promise<Outcome> {
  const { out } = opts;
  const children = new Children();
  const dir = await mkdtemp(join(tmpdir(), 'bulk-import-demo-'));
  let api: StickyBalancer | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  const context = (dbUrl: string, current: StickyBalancer): DemoContext => ({
    dbUrl,
    api: current,
    dir,
    children,
    opts,
    onStop: (c) => void cleanups.push(c),
  });
  try {
    // Before anything starts: a missing emulator is said at once, not after the direct-mode part.
    if (opts.queue) await (await import('./sandbox/local-sqs.js')).loadFauxqs();
    out(
      `bulk-import demo: ${opts.rows.toLocaleString('en')} listings from PostgreSQL into an API behind a sticky load balancer\n`,
    );
    const t0 = Date.now();
    const db = await startDatabaseChild(children, opts.rows);
    out(`1. embedded PostgreSQL (pglite) at ${db.url}: seeded table listings in ${(db.seedMs / 1000).toFixed(1)} s`);
    api = await startStickyBalancer({
      backends: Array.from({ length: 3 }, () => ({ ...API, record: 'ids' as const })),
    });
    out(`2. local API at ${api.url}/listings: backends b1, b2, b3 behind a balancer that sets AWSALB cookies`);
    out(`   (each backend builds a session for a request without one: +${API.sessionSetupMs} ms, like many real APIs)`);
    if (opts.signal.aborted) return { stoppedBy: 'interrupted' };
    if (opts.serve) return await serve(context(db.url, api));

    const common = (to: string, name: string) => [
      '--from',
      db.url,
      '--table',
      'listings',
      '--to',
      to,
      '--batch-size',
      String(opts.batchSize),
      '--concurrency',
      String(opts.concurrency),
      '--summary-json',
      join(dir, `${name}.summary.json`),
    ];
    out(
      `3. bulk-import run --from ${db.url} --table listings --to ${api.url}/listings --batch-size ${opts.batchSize} --concurrency ${opts.concurrency}\n`,
    );
    const sticky = await runCliChild(children, [
      'run',
      ...common(`${api.url}/listings`, 'sticky'),
      '--checkpoint',
      join(dir, 'demo.ckpt.json'),
      '--failed',
      join(dir, 'demo.failed.ndjson'),
      '--target-header',
      'x-backend',
    ]);
    out(indent(sticky.stdout));
    const stickySpread = laneSpread(api);
    out(describeSpread(stickySpread));
    const delivered = new Set(api.backends.flatMap((b) => b.acceptedIds())).size;
    out(`  arrived: ${delivered.toLocaleString('en')} distinct listing ids at the API\n`);
    if (opts.signal.aborted) return { stoppedBy: 'interrupted' };
    // A child killed by a signal has no code of its own: its rows are not all there.
    if (sticky.code !== 0) return { stoppedBy: 'completed', childExit: sticky.code ?? 1 };

    await api.close();
    api = await startStickyBalancer({
      backends: Array.from({ length: 3 }, () => ({ ...API, record: 'count' as const })),
    });
    out(`4. the same import with --sticky off (what node's http client did in the story: cookies dropped)\n`);
    const off = await runCliChild(children, [
      'run',
      ...common(`${api.url}/listings`, 'off'),
      '--sticky',
      'off',
      '--no-checkpoint',
      '--failed',
      join(dir, 'off.failed.ndjson'),
    ]);
    out(indent(off.stdout));
    out(describeSpread(laneSpread(api)));
    const [a, b] = await Promise.all([rowsPerSecond(dir, 'sticky'), rowsPerSecond(dir, 'off')]);
    out(
      `\n  sticky lanes: ${a.toLocaleString('en')} rows/s; --sticky off: ${b.toLocaleString('en')} rows/s (${(a / Math.max(b, 1)).toFixed(1)}× faster with stickiness)`,
    );
    if (opts.queue && !opts.signal.aborted) await (await import('./queue-demo.js')).queueDemo(context(db.url, api));
    out(`\nall processes stopped, temp folder removed (${((Date.now() - t0) / 1000).toFixed(1)} s in all).`);
    return opts.signal.aborted ? { stoppedBy: 'interrupted' } : { stoppedBy: 'completed', childExit: off.code ?? 1 };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await children.stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `demo --serve`: leave everything running and say how to use it, until Ctrl-C. */
async function serve(ctx: DemoContext): Promise<Outcome> {
  const { out } = ctx.opts;
  const to = `${ctx.api.url}/listings`;
  out(`\nEverything is running. Try, in another terminal:\n`);
  out(`  npx bulk-import run --from ${ctx.dbUrl} --table listings --to ${to} --checkpoint demo.ckpt.json`);
  out(`  npx bulk-import run --from ${ctx.dbUrl} --table listings --to ${to} --sticky off --no-checkpoint`);
  out(
    `  npx bulk-import run --from ${ctx.dbUrl} --query "SELECT id, title, price FROM listings WHERE bedrooms > 2" --to ${to} --no-checkpoint`,
  );
  out(`  npx bulk-import run --from ${ctx.dbUrl} --table listings --to ${to} --dry-run --limit 5`);
  out(`  npx bulk-import status demo.ckpt.json`);
  if (ctx.opts.queue) await (await import('./queue-demo.js')).queueDemo(ctx);
  out(`\nCtrl-C stops it all.`);
  await new Promise<void>((resolve) => ctx.opts.signal.addEventListener('abort', () => resolve(), { once: true }));
  out(`stopping…`);
  // Ctrl-C is how --serve is meant to end, not a stop of work in progress.
  return { stoppedBy: 'completed' };
}

async function rowsPerSecond(dir: string, name: string): Promise<number> {
  const summary = JSON.parse(await readFile(join(dir, `${name}.summary.json`), 'utf8')) as { rowsPerSecond: number };
  return summary.rowsPerSecond;
}
