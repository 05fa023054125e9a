/**
 * The `run --queue` command line every queue bench gives bulk-import (queue bench, A/B, RSS scale):
 * one place, so the benches cannot drift apart in what they measure. Concurrency 16, no checkpoint
 * and no progress bar, as the plain script has neither; `limit` when the run reads a subset.
 */
export function queueRunArgs(o: {
  db: string;
  table: string;
  queueUrl: string;
  endpoint: string;
  summaryFile: string;
  limit?: number;
  extra?: readonly string[];
}): string[] {
  return [
    'run',
    '--from',
    o.db,
    '--table',
    o.table,
    '--queue',
    o.queueUrl,
    '--sqs-endpoint',
    o.endpoint,
    '--no-checkpoint',
    '--no-progress',
    '--concurrency',
    '16',
    ...(o.extra ?? []),
    ...(o.limit === undefined ? [] : ['--limit', String(o.limit)]),
    '--summary-json',
    o.summaryFile,
  ];
}
