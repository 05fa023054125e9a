import { availableParallelism } from 'node:os';
import { runMeasured } from './child-processes.js';
import { AUTOCANNON_CONNECTIONS, type Contender } from './contenders.js';
import { sampleHostCpu } from './host-cpu.js';
import type { SinkProcess } from './sink-process.js';

/** One run of one contender, as the sink counted it and the child measured itself. */
export interface Measurement {
  readonly id: string;
  readonly rows: number;
  readonly requests: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  readonly requestsPerSec: number;
  /** Client user + system CPU seconds per million rows. */
  readonly cpuPerMillion: number;
  readonly rssMB: number;
  /** The sink's CPU seconds per million rows during the run (it shares the cores). */
  readonly sinkCpuPerMillion: number;
  /** PostgreSQL's CPU seconds per million rows (every server process, reaped backends included). */
  readonly dbCpuPerMillion: number;
  /** Share of the machine's cores busy with anything else during the run: noise, not workload. */
  readonly foreignShare: number;
  /** Empty when the counts check passed; otherwise what was wrong. */
  readonly problems: string[];
}

/**
 * Runs a contender once and checks what reached the sink against what it had to deliver.
 * `databaseInProcess`: the embedded database runs on this process's thread, so its CPU is ours.
 */
export async function measure(c: Contender, sink: SinkProcess, databaseInProcess = false): Promise<Measurement> {
  const before = await sink.report();
  const host0 = sampleHostCpu();
  const self0 = process.cpuUsage();
  const run = await runMeasured(c.nodeArgs, c.script, c.args, c.timeoutMs, c.env);
  const host1 = sampleHostCpu();
  const self = process.cpuUsage(self0);
  const after = await sink.report();
  const d = (k: keyof typeof before.counts) => after.counts[k] - before.counts[k];
  const rows = d('rows');
  const requests = d('accepted');
  const problems: string[] = [];
  if (run.exitCode !== 0)
    problems.push(`exit ${run.exitCode ?? run.signal}${run.stderrTail ? `: ${run.stderrTail}` : ''}`);
  if (!run.rusage) problems.push('no resource usage reported');
  if (d('rejected') > 0 || d('resets') > 0) problems.push(`sink rejected ${d('rejected')}, reset ${d('resets')}`);
  let seconds = run.wallMs / 1000;
  if (c.kind === 'autocannon') {
    // autocannon runs for a time; it reports its own span and the 2xx it saw. Requests it had in
    // flight when it stopped may still reach the sink, so the sink may count up to one per connection more.
    const own = lastJson(run.stdout);
    if (own && typeof own.seconds === 'number' && typeof own.requests === 'number') {
      seconds = own.seconds;
      if (requests < own.requests || requests > own.requests + AUTOCANNON_CONNECTIONS) {
        problems.push(`sink counted ${requests} requests, autocannon ${own.requests}`);
      }
    } else problems.push('autocannon printed no result');
  } else {
    if (rows !== c.rows) problems.push(`sink received ${rows} rows, expected ${c.rows}`);
    if (requests !== c.requests) problems.push(`sink received ${requests} requests, expected ${c.requests}`);
  }
  const cpuSec = run.rusage ? (run.rusage.userCPUTime + run.rusage.systemCPUTime) / 1e6 : NaN;
  const perMillion = (x: number) => (rows > 0 ? (x / rows) * 1e6 : NaN);
  const sinkCpu = (after.cpuMicros - before.cpuMicros) / 1e6;
  const dbCpu = databaseInProcess ? (self.user + self.system) / 1e6 : host1.postgres - host0.postgres;
  const foreign = host1.busy - host0.busy - cpuSec - sinkCpu - dbCpu;
  return {
    id: c.id,
    rows,
    requests,
    seconds,
    rowsPerSec: rows / seconds,
    requestsPerSec: requests / seconds,
    cpuPerMillion: perMillion(cpuSec),
    rssMB: run.rusage ? run.rusage.maxRSS / 1024 : NaN,
    sinkCpuPerMillion: perMillion(sinkCpu),
    dbCpuPerMillion: perMillion(dbCpu),
    foreignShare: host1.busy > 0 ? Math.max(0, foreign) / ((run.wallMs / 1000) * availableParallelism()) : NaN,
    problems,
  };
}

function lastJson(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trim().split('\n').at(-1);
  try {
    return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
