import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured, scratch } from '../child-processes.js';
import type { CapacityProcess } from './capacity-process.js';
import type { AdaptiveContender } from './plan.js';

/** One run of one contender, as the capacity API saw it. */
export interface AdaptiveMeasurement {
  readonly id: string;
  readonly rows: number;
  /** Rows over the API's span (first arrival → last answer): the client's start-up is left out. */
  readonly rowsPerSec: number;
  /** Rows over the client's wall time, spawn to exit. */
  readonly wallRowsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Refused (503) requests over all that reached the API. */
  readonly refusedShare: number;
  readonly meanInFlight: number;
  readonly maxInFlight: number;
  /** The client's CPU over its wall time (1 = one core busy the whole run). */
  readonly clientCores: number;
  /** auto only, from --summary-json: the limit's median and the latency the client saw. */
  readonly limitMedian?: number;
  readonly clientP99Ms?: number;
  readonly problems: string[];
}

let n = 0;

export async function measureAdaptive(c: AdaptiveContender, api: CapacityProcess): Promise<AdaptiveMeasurement> {
  const summaryFile = join(scratch, `adaptive-summary-${++n}.json`);
  await api.reset();
  const run = await runMeasured(c.nodeArgs, c.script, c.args(summaryFile), c.timeoutMs, c.env);
  const seen = await api.report();
  const problems: string[] = [];
  if (run.exitCode !== 0)
    problems.push(`exit ${run.exitCode ?? run.signal}${run.stderrTail ? `: ${run.stderrTail}` : ''}`);
  if (seen.rows !== c.rows) problems.push(`the API took ${seen.rows} rows, expected ${c.rows}`);
  let limitMedian: number | undefined;
  let clientP99Ms: number | undefined;
  try {
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
      adaptiveConcurrency?: { limitMedian?: number; latencyP99Ms?: number };
    };
    limitMedian = summary.adaptiveConcurrency?.limitMedian;
    clientP99Ms = summary.adaptiveConcurrency?.latencyP99Ms;
    rmSync(summaryFile);
  } catch {
    if (c.concurrency === 'auto') problems.push('no --summary-json written');
  }
  const wallSec = run.wallMs / 1000;
  const cpuSec = run.rusage ? (run.rusage.userCPUTime + run.rusage.systemCPUTime) / 1e6 : Number.NaN;
  return {
    id: c.id,
    rows: seen.rows,
    rowsPerSec: seen.spanMs > 0 ? seen.rows / (seen.spanMs / 1000) : Number.NaN,
    wallRowsPerSec: seen.rows / wallSec,
    p50Ms: seen.p50Ms,
    p99Ms: seen.p99Ms,
    refusedShare: seen.requests > 0 ? seen.refused / seen.requests : Number.NaN,
    meanInFlight: seen.meanInFlight,
    maxInFlight: seen.maxInFlight,
    clientCores: cpuSec / wallSec,
    limitMedian,
    clientP99Ms,
    problems,
  };
}
