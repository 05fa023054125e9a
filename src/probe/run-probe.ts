import { setMaxListeners } from 'node:events';
import { jobIdOf } from '../checkpoint/checkpoint-file.js';
import type { ProbeConfig } from '../config/probe-config.js';
import type { RunConfig } from '../config/import-config.js';
import type { StickyMode } from '../http/cookie-lanes.js';
import { StickyHttpClient } from '../http/sticky-client.js';
import { redactUrl } from '../redact.js';
import { fingerprintOf, makeSource } from '../run-import.js';
import { applyTransform, loadTransform } from '../transform.js';
import type { Batch, KeyTuple, Source } from '../types.js';
import { AttemptRecorder } from './attempt-recorder.js';
import { kneeOf, type StickinessVerdict, stickinessOf, type SweepStop, sweepStop } from './knee.js';
import { type ProbeLanes, type ProbeStep, runStep, type StepTally } from './probe-step.js';

export type { ProbeStep };

/** One sweep's outcome: a batch size and a sticky mode over rising concurrency. */
export interface ProbeSweep {
  readonly batchSize: number;
  readonly sticky: StickyMode;
  /** The smallest concurrency reaching 95 % of the sweep's best rows/s (undefined: nothing delivered). */
  readonly knee: number | undefined;
  readonly bestRowsPerSec: number;
  /** Why it ended early; undefined when the probe as a whole stopped first. */
  readonly stoppedBy: SweepStop | undefined;
}

export type ProbeStop = 'done' | 'rows' | 'time' | 'table end' | 'interrupted';

export interface ProbeResult {
  readonly steps: readonly ProbeStep[];
  readonly sweeps: readonly ProbeSweep[];
  /** Per batch size, when two or more sticky modes were measured. */
  readonly stickiness: readonly (StickinessVerdict & { readonly batchSize: number })[];
  /** The setting to run with: the best sweep's knee. */
  readonly recommended:
    | { readonly batchSize: number; readonly concurrency: number; readonly sticky: StickyMode }
    | undefined;
  readonly stoppedBy: ProbeStop;
  /** What went out for real: these rows are in the API now (those delivered). */
  readonly sent: {
    readonly rows: number;
    readonly delivered: number;
    readonly failed: number;
    readonly firstKey: KeyTuple | undefined;
    readonly lastKey: KeyTuple | undefined;
  };
  /** The job id a `run` with the same source, target and first batch size has: its idempotency keys are probe's. */
  readonly jobId: string;
  /** About the rows a sweep of every step takes at the smallest share (for the hint when --rows runs out). */
  readonly fullSweepRows: number;
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  /** --dry-run: the first body that would have been sent. */
  readonly sampleBody?: string;
}

export interface ProbeHooks {
  /** Stop after the steps in flight finish; the table so far is the result. */
  readonly signal?: AbortSignal;
  /** Cancel the requests in flight too. */
  readonly hardSignal?: AbortSignal;
  /** Each step as it ends. */
  readonly onStep?: (step: ProbeStep) => void;
}

/**
 * probe: sends real batches (read as `run` reads them) at concurrency 1, 2, 4, … per sticky mode
 * (modes interleaved, so a drift in the API's load touches both alike), each step bounded in rows
 * and time, and reports each sweep's knee, whether stickiness matters, and the setting to use.
 * No checkpoint and no failed file: a later run starts from the table's first row and sends the
 * probe's rows again, with the same idempotency keys (for the first batch size).
 */
export async function runProbe(config: ProbeConfig, hooks: ProbeHooks = {}): Promise<ProbeResult> {
  const signal = hooks.signal ?? new AbortController().signal;
  const hardSignal = hooks.hardSignal ?? new AbortController().signal;
  setMaxListeners(0, hardSignal);
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), config.maxTimeMs);
  const stop = AbortSignal.any([signal, deadline.signal]);
  const runCfg = config.run;
  const jobId = jobIdOf(fingerprintOf(runCfg));
  const target = `${runCfg.target?.method} ${redactUrl(runCfg.target?.url ?? '')}`;
  const steps: ProbeStep[] = [];
  const sweeps: ProbeSweep[] = [];
  const tally: StepTally = { answered: false, firstKey: undefined, lastKey: undefined, exhausted: false };
  let stoppedBy: ProbeStop = 'done';
  let describe = '';
  let sampleBody: string | undefined;
  const transform = runCfg.transform ? await loadTransform({ ...runCfg.transform, stop: signal }) : undefined;
  let after: KeyTuple | undefined;
  try {
    for (const [i, batchSize] of config.batchSizes.entries()) {
      if (stoppedBy !== 'done') break;
      // Several batch sizes share the rows and the time left equally.
      const sizesLeft = config.batchSizes.length - i;
      const rows = Math.floor((config.rows - rowsSent(steps)) / sizesLeft);
      const endsAt = started + (config.maxTimeMs * (i + 1)) / config.batchSizes.length;
      // Each batch size reads on from where the last one stopped: no row is sent twice by a probe.
      const cfg: RunConfig = { ...runCfg, batchSize };
      const source = makeSource(cfg, jobIdOf(fingerprintOf(cfg)));
      describe ||= source.describe;
      let stream: AsyncIterator<Batch> | undefined;
      try {
        stream = await openStream(source, after, rows, signal, transform);
        if (config.dryRun) {
          const first = await stream.next();
          if (!first.done) sampleBody = batchSize === 1 ? first.value.rows[0] : first.value.json;
          return result();
        }
        const outcome = await sweepBatchSize(config, cfg, batchSize, stream, tally, steps, sweeps, {
          rows,
          endsAt,
          stop,
          hardSignal,
          onStep: hooks.onStep,
        });
        if (outcome !== 'done') stoppedBy = outcome;
        after = tally.lastKey;
        tally.exhausted = false;
      } finally {
        await stream?.return?.();
        await source.close();
      }
    }
  } finally {
    clearTimeout(timer);
  }
  // The sweeps see one stop signal: the user's (Ctrl-C) or the --max-time deadline.
  if (stoppedBy === 'interrupted' || (stoppedBy === 'done' && stop.aborted))
    stoppedBy = signal.aborted ? 'interrupted' : 'time';
  return result();

  function result(): ProbeResult {
    const sent = { rows: rowsSent(steps), delivered: 0, failed: 0, firstKey: tally.firstKey, lastKey: tally.lastKey };
    for (const s of steps) {
      sent.delivered += s.delivered;
      sent.failed += s.failed;
    }
    return {
      steps,
      sweeps,
      stickiness: stickinessPerSize(sweeps),
      recommended: recommend(sweeps),
      stoppedBy,
      sent,
      jobId,
      fullSweepRows: fullSweepRows(config),
      source: describe,
      target,
      dryRun: config.dryRun,
      ...(sampleBody !== undefined ? { sampleBody } : {}),
    };
  }
}

interface SweepContext {
  /** This batch size's share of --rows, and when its share of --max-time ends (performance.now). */
  readonly rows: number;
  readonly endsAt: number;
  readonly stop: AbortSignal;
  readonly hardSignal: AbortSignal;
  readonly onStep: ((step: ProbeStep) => void) | undefined;
}

/** All sticky modes of one batch size, interleaved by concurrency; returns why the probe must stop, or 'done'. */
async function sweepBatchSize(
  config: ProbeConfig,
  cfg: RunConfig,
  batchSize: number,
  stream: AsyncIterator<Batch>,
  tally: StepTally,
  steps: ProbeStep[],
  sweeps: ProbeSweep[],
  ctx: SweepContext,
): Promise<ProbeStop> {
  const target = cfg.target;
  if (!target) throw new Error('probe needs a target');
  const max = config.concurrencies.at(-1) as number;
  const tracks = config.stickyModes.map((sticky) => {
    const recorder = new AttemptRecorder();
    const client = new StickyHttpClient({ ...target, sticky }, undefined, recorder);
    const lanes: ProbeLanes = { sticky, batchSize, client, recorder, url: target.url };
    return { lanes, steps: [] as ProbeStep[], stopped: undefined as SweepStop | undefined };
  });
  let outcome: ProbeStop = 'done';
  const sweepSteps: ProbeStep[] = [];
  try {
    outer: for (const [ci, concurrency] of config.concurrencies.entries()) {
      for (const track of tracks) {
        if (track.stopped) continue;
        if (ctx.stop.aborted) {
          outcome = 'interrupted';
          break outer;
        }
        const left = ctx.rows - rowsSent(sweepSteps);
        const time = ctx.endsAt - performance.now();
        if (left <= 0 || time <= 0) {
          outcome = rowsSent(steps) >= config.rows ? 'rows' : 'done';
          break outer;
        }
        // The rows left, shared over the steps left in proportion to their concurrency (a step
        // with twice the lanes needs twice the rows for as many rounds), and never fewer than
        // three rounds of its lanes and twelve requests if the budget still has them. Steps that end
        // on time leave their unused share to the later ones.
        const active = tracks.filter((t) => !t.stopped).length;
        const weight = active * config.concurrencies.slice(ci).reduce((a, c) => a + c, 0);
        const floor = Math.max(3 * concurrency, 12) * batchSize;
        const share = Math.max(Math.ceil((left * concurrency) / weight), floor);
        const step = await runStep(
          track.lanes,
          stream,
          {
            concurrency,
            rows: Math.min(left, share),
            ms: Math.min(config.stepMs, time),
            signal: ctx.stop,
            hardSignal: ctx.hardSignal,
          },
          tally,
        );
        if (step.attempts > 0) {
          steps.push(step);
          sweepSteps.push(step);
          track.steps.push(step);
          ctx.onStep?.(step);
          track.stopped = sweepStop(track.steps, max);
        }
        if (tally.exhausted) {
          // The source was read up to this size's share of --rows, or the table has no more rows.
          outcome = rowsSent(steps) >= config.rows ? 'rows' : rowsSent(sweepSteps) >= ctx.rows ? 'done' : 'table end';
          break outer;
        }
      }
      if (tracks.every((t) => t.stopped)) break;
    }
  } finally {
    await Promise.all(tracks.map((t) => t.lanes.client.close()));
  }
  for (const t of tracks) {
    const knee = kneeOf(t.steps);
    sweeps.push({
      batchSize,
      sticky: t.lanes.sticky,
      knee: knee?.concurrency,
      bestRowsPerSec: knee?.rowsPerSec ?? 0,
      stoppedBy: t.stopped,
    });
  }
  return outcome;
}

async function openStream(
  source: Source,
  after: KeyTuple | undefined,
  limit: number,
  signal: AbortSignal,
  transform: Awaited<ReturnType<typeof loadTransform>> | undefined,
): Promise<AsyncIterator<Batch>> {
  await source.open?.(signal);
  const read = source.batches({ ...(after ? { after } : {}), limit: Math.max(1, limit), signal });
  const batches = transform ? applyTransform(read, transform, signal) : read;
  return batches[Symbol.asyncIterator]();
}

function fullSweepRows(config: ProbeConfig): number {
  let rows = 0;
  for (const b of config.batchSizes)
    for (const c of config.concurrencies) rows += Math.max(3 * c, 12) * b * config.stickyModes.length;
  return rows;
}

function rowsSent(steps: readonly ProbeStep[]): number {
  let n = 0;
  for (const s of steps) n += s.rows;
  return n;
}

function stickinessPerSize(sweeps: readonly ProbeSweep[]): (StickinessVerdict & { batchSize: number })[] {
  const out: (StickinessVerdict & { batchSize: number })[] = [];
  for (const size of new Set(sweeps.map((s) => s.batchSize))) {
    const best = new Map(sweeps.filter((s) => s.batchSize === size).map((s) => [s.sticky, s.bestRowsPerSec] as const));
    const verdict = stickinessOf(best);
    if (verdict) out.push({ ...verdict, batchSize: size });
  }
  return out;
}

/** The sweep with the best rows/s, at its knee. */
function recommend(sweeps: readonly ProbeSweep[]): ProbeResult['recommended'] {
  const best = [...sweeps].sort((a, b) => b.bestRowsPerSec - a.bestRowsPerSec)[0];
  if (!best || best.knee === undefined) return undefined;
  return { batchSize: best.batchSize, concurrency: best.knee, sticky: best.sticky };
}
