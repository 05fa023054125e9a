import { BulkImportError } from '../errors.js';
import type { StickyMode } from '../http/cookie-lanes.js';
import { classifyRefusal } from '../http/retry-policy.js';
import type { StickyHttpClient } from '../http/sticky-client.js';
import { redactUrl } from '../redact.js';
import { deliverWindowed } from '../sink/window.js';
import type { Batch, KeyTuple } from '../types.js';
import { type AttemptRecorder, emptyCounts } from './attempt-recorder.js';
import { STOP_ERROR_RATE } from './knee.js';

/** One row of probe's table: one batch size, one sticky mode, one concurrency. */
export interface ProbeStep {
  readonly batchSize: number;
  readonly sticky: StickyMode;
  readonly concurrency: number;
  /** Rows sent (each in one request, not retried). */
  readonly rows: number;
  readonly delivered: number;
  readonly failed: number;
  readonly elapsedMs: number;
  /** Rows the API took per second: the step's throughput. */
  readonly rowsPerSec: number;
  readonly attempts: number;
  readonly overload: number;
  readonly otherErrors: number;
  /** overload / attempts. */
  readonly errorRate: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

/** The lanes of one sticky mode, kept across its steps so lanes stay placed as a long run's would. */
export interface ProbeLanes {
  readonly sticky: StickyMode;
  readonly batchSize: number;
  readonly client: StickyHttpClient;
  readonly recorder: AttemptRecorder;
  readonly url: string;
}

export interface StepBounds {
  readonly concurrency: number;
  /** Stop pulling batches once this many rows were pulled … */
  readonly rows: number;
  /** … or this long after the step began; what is in flight then still finishes. */
  readonly ms: number;
  readonly signal: AbortSignal;
  readonly hardSignal: AbortSignal;
}

/** What the probe as a whole learns from a step besides its figures. */
export interface StepTally {
  /** Whether the API has answered anything (any status) yet. */
  answered: boolean;
  firstKey: KeyTuple | undefined;
  lastKey: KeyTuple | undefined;
  /** The source (or --rows) ran out during this step. */
  exhausted: boolean;
}

/**
 * One step: batches from the shared stream (the same cuts and idempotency keys as `run`), sent
 * through the mode's sticky client with `concurrency` in flight through the sink's window, until
 * the step's row or time share is used. Throws as `run` does when the API cannot be used at all
 * (unreachable, or refusing the endpoint: 401, 404…).
 */
export async function runStep(
  lanes: ProbeLanes,
  batches: AsyncIterator<Batch>,
  bounds: StepBounds,
  tally: StepTally,
): Promise<ProbeStep> {
  const counts = emptyCounts();
  lanes.recorder.counts = counts;
  const started = performance.now();
  let pulled = 0;
  let delivered = 0;
  let failed = 0;
  let lastEnd = started;
  // A step already over the stop rate has said what it can: sending on only hurts the API.
  const overloaded = () =>
    counts.attempts >= Math.max(20, bounds.concurrency) && counts.overload > STOP_ERROR_RATE * counts.attempts;
  async function* share(): AsyncIterable<Batch> {
    while (pulled < bounds.rows && performance.now() - started < bounds.ms && !overloaded()) {
      const next = await batches.next();
      if (next.done) {
        tally.exhausted = true;
        return;
      }
      const b = next.value;
      pulled += b.count;
      tally.firstKey ??= b.firstKey;
      tally.lastKey = b.lastKey;
      yield b;
    }
  }
  const send = async (b: Batch): Promise<void> => {
    if (b.count === 0) return;
    const body = lanes.batchSize === 1 ? (b.rows[0] as string) : b.payload;
    const result = await lanes.client.send(body, b.idempotencyKey, bounds.hardSignal);
    lastEnd = performance.now();
    if (result.status !== null) tally.answered = true;
    else if (!tally.answered) {
      throw new BulkImportError('TARGET_UNREACHABLE', `cannot reach ${redactUrl(lanes.url)}: ${result.error}`);
    }
    if (result.ok) delivered += b.count;
    else {
      failed += b.count;
      if (result.status !== null && classifyRefusal(result.status) === 'endpoint') {
        throw new BulkImportError(
          'TARGET_REFUSED',
          `${redactUrl(lanes.url)} answered ${result.status}; the endpoint, method or credentials are wrong`,
        );
      }
    }
  };
  const opts = { signal: bounds.signal, hardSignal: bounds.hardSignal };
  for await (const _ of deliverWindowed(share(), { concurrency: bounds.concurrency }, send, opts)) {
    // Receipts carry nothing probe needs: the counters above are its record.
  }
  const elapsedMs = Math.max(1, lastEnd - started);
  return {
    batchSize: lanes.batchSize,
    sticky: lanes.sticky,
    concurrency: bounds.concurrency,
    rows: delivered + failed,
    delivered,
    failed,
    elapsedMs,
    rowsPerSec: (delivered * 1000) / elapsedMs,
    attempts: counts.attempts,
    overload: counts.overload,
    otherErrors: counts.otherErrors,
    errorRate: counts.attempts > 0 ? counts.overload / counts.attempts : 0,
    p50Ms: counts.latency.quantile(0.5),
    p99Ms: counts.latency.quantile(0.99),
  };
}
