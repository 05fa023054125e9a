import { FailedFileWriter } from './checkpoint/failed-file.js';
import type { ReplayConfig, ReplayQueueConfig } from './config/replay-config.js';
import { RetryAfterBrake } from './http/retry-after-brake.js';
import type { SendRejects } from './queue/rejects.js';
import { makeRedactor, secretsOf } from './redact.js';
import { runImport, type RunHooks, type RunResult } from './run-import.js';

export interface ReplayHooks extends RunHooks {
  /** replay of a queue: the forwarder's log lines (JSON, secrets masked); default: standard error. */
  readonly log?: (line: string) => void;
}

export interface ReplayQueueResult {
  readonly stoppedBy: 'completed' | 'interrupted';
  readonly received: number;
  readonly deleted: number;
  /** Messages not delivered for a reason other than their rows (5xx, the endpoint, malformed): left on the queue. */
  readonly kept: number;
  readonly delivered: number;
  /** Rows refused again, written to `failedPath`. */
  readonly failedAgain: number;
  readonly failedPath: string;
  readonly elapsedMs: number;
}

export type ReplayResult =
  | { readonly kind: 'file'; readonly result: RunResult }
  | ({ readonly kind: 'queue' } & ReplayQueueResult);

/**
 * Sends again the rows of a failed-rows file (an import whose source is that file; rows that fail
 * again go to a new file) or the messages of a rejects / dead-letter queue (one pass; a message is
 * deleted once each of its rows was delivered or written to the failed file).
 */
export async function replay(config: ReplayConfig, hooks: ReplayHooks = {}): Promise<ReplayResult> {
  if (config.kind === 'file') return { kind: 'file', result: await runImport(config.run, hooks) };
  return { kind: 'queue', ...(await replayQueueOnce(config, hooks)) };
}

async function replayQueueOnce(c: ReplayQueueConfig, hooks: ReplayHooks): Promise<ReplayQueueResult> {
  // The SQS SDK loads only for a queue: replaying a file never needs it.
  const [{ Forwarder }, { replayQueue }, { createSqsClient }] = await Promise.all([
    import('./lambda/forwarder.js'),
    import('./queue/replay-queue.js'),
    import('./queue/sqs-client.js'),
  ]);
  const started = Date.now();
  const stop = hooks.signal ?? new AbortController().signal;
  const log = hooks.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const redact = makeRedactor(secretsOf([c.forwarder.target.url], c.forwarder.target.headers));
  const file = new FailedFileWriter(c.failed, redact);
  // Written and synced before the message is deleted: a row leaves the queue only for the disk.
  const rejects: SendRejects = async (_job, rows) => {
    await file.write(rows);
    await file.sync();
  };
  // A Retry-After holds every lane, at a fixed concurrency too (auto's limiter holds them itself).
  const brake = c.forwarder.autoConcurrency ? undefined : new RetryAfterBrake(c.forwarder.target.retry.maxRetryAfterMs);
  const forwarder = new Forwarder(c.forwarder, log, { rejects, rejectsTo: c.failed, ...(brake ? { brake } : {}) });
  const sqs = createSqsClient(c.connection);
  try {
    const r = await replayQueue({
      sqs,
      queueUrl: c.queueUrl,
      forwarder,
      visibilitySeconds: c.visibilitySeconds,
      stop,
      hard: hooks.hardSignal ?? new AbortController().signal,
    });
    return {
      stoppedBy: stop.aborted ? 'interrupted' : 'completed',
      ...r,
      delivered: forwarder.totals.delivered,
      failedAgain: file.count,
      failedPath: c.failed,
      elapsedMs: Date.now() - started,
    };
  } finally {
    sqs.destroy();
    await Promise.all([forwarder.close(), file.close()]);
  }
}
