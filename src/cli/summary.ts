import { open } from 'node:fs/promises';
import type { RunResult } from '../run-import.js';
import { fromPoint, horizonPoint, lagOf, shortAfter } from './horizon-text.js';

/** The one-paragraph summary printed at the end of a run, and its JSON twin for scripts. */
export function formatSummary(r: RunResult): string {
  const run = r.thisRun;
  const secs = r.elapsedMs / 1000;
  const perSec = secs > 0 ? Math.round((run.delivered + run.failed + run.skipped) / secs) : 0;
  const { verb, via, lines: own } = r.sink;
  const lines = [
    `${headline(r)}: ${run.read} rows read, ${run.delivered} ${verb}, ${run.failed} failed, ${run.skipped} skipped` +
      ` in ${secs.toFixed(1)} s (${perSec} rows/s); ${r.requests} requests, ${r.retries} retries.`,
    `  from ${r.source}`,
    `  to   ${r.target}${via}`,
    ...own,
  ];
  if (r.resumed) {
    const state = r.stoppedBy === 'completed' ? 'the job' : 'the job so far';
    lines.push(
      `  ${state} (all runs): ${r.read} rows read, ${r.delivered} ${verb}, ${r.failed} failed, ${r.skipped} skipped`,
    );
  }
  if (r.catchUp) {
    const c = r.catchUp;
    const rows = r.read.toLocaleString('en-US');
    const from = fromPoint(c.from, r.horizon);
    const now = r.horizon
      ? ` (horizon now ${shortAfter(from, horizonPoint(r.horizon))}, lag ${lagOf(r.horizon, Date.now())})`
      : '';
    lines.push(
      `  catch-up ${c.n}: ${rows} rows changed since ${from}${now}; ${c.overlapRows} rows re-sent inside the overlap`,
    );
  } else if (r.horizon) {
    lines.push(`  horizon: ${horizonPoint(r.horizon)} (${r.horizon.column}); send what changed since with --catch-up`);
  }
  if (r.checkpointPath) lines.push(`  checkpoint: ${r.checkpointPath}`);
  if (r.failedPath)
    lines.push(`  failed rows: ${r.failedPath} (send them again with: bulk-import replay ${r.failedPath} --to …)`);
  return lines.join('\n');
}

function headline(r: RunResult): string {
  switch (r.stoppedBy) {
    case 'completed':
      if (r.dryRun) return 'Dry run (nothing sent)';
      return r.failed > 0 ? 'Finished with failures' : 'Done';
    case 'interrupted':
      return 'Stopped (in-flight requests finished)';
    case 'aborted':
      return 'Aborted';
    case 'too-many-failures':
      return 'Stopped: too many failures (--max-failures)';
  }
}

export function summaryJson(r: RunResult): Record<string, unknown> {
  return {
    jobId: r.jobId,
    stoppedBy: r.stoppedBy,
    source: r.source,
    target: r.target,
    thisRun: r.thisRun,
    job: { read: r.read, delivered: r.delivered, failed: r.failed, skipped: r.skipped },
    requests: r.requests,
    retries: r.retries,
    elapsedMs: r.elapsedMs,
    rowsPerSecond:
      r.elapsedMs > 0
        ? Math.round(((r.thisRun.delivered + r.thisRun.failed + r.thisRun.skipped) * 1000) / r.elapsedMs)
        : 0,
    targets: r.targets,
    watermark: r.watermark,
    checkpoint: r.checkpointPath,
    failedFile: r.failedPath,
    ...(r.horizon ? { horizon: r.horizon } : {}),
    ...(r.catchUp ? { catchUp: r.catchUp } : {}),
    ...r.sink.json,
  };
}

/**
 * `--summary-json`: owner-only like the checkpoint (it names the source and the target). The
 * mode is set on the open file before writing, so a file that existed with 0644 is fixed first.
 */
export async function writeSummaryJson(path: string, r: RunResult): Promise<void> {
  const file = await open(path, 'w', 0o600);
  try {
    await file.chmod(0o600);
    await file.writeFile(`${JSON.stringify(summaryJson(r), null, 2)}\n`);
  } finally {
    await file.close();
  }
}
