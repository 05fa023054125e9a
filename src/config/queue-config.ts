import { usage } from '../errors.js';
import type { RetryPolicy } from '../http/retry-policy.js';
import { SQS_MAX_BYTES } from '../queue/message-packer.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import { DEFAULT_RETRY_POLICY, QUEUE_DEFAULTS } from './defaults.js';
import type { NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count } from './rules.js';

/** Queue mode of an import: rows go to SQS, and `forward` or the Lambda delivers them. */
export interface QueueConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly messageBytes: number;
  readonly rowsPerMessage?: number;
  /** SendMessageBatch payload bytes in flight at most (see SqsSinkConfig.inFlightBytes). */
  readonly inFlightBytes: number;
  readonly retry: RetryPolicy;
}

/**
 * Four full calls (10 × 64 KiB each) out at once. Measured (README, "Benchmark / Queue mode"):
 * peak RSS follows this budget (two calls: ~13 MB less) while enqueue speed into a local emulator
 * does not; against SQS, at ~40 ms a call, four at once would still carry ~100,000 rows/s.
 */
export const IN_FLIGHT_BYTES = 4 * 655_360;

export interface QueueOptions {
  /** Enqueue rows to this SQS queue instead of sending them to `to` (queue mode). */
  queue?: string;
  sqsEndpoint?: string;
  messageBytes?: Count;
  rowsPerMessage?: Count;
  /** The import's own retries, reused for SendMessageBatch. */
  retries?: Count;
}

/** The queue options checked once; undefined without `queue` (direct mode). */
export function parseQueueConfig(o: QueueOptions, env: NodeJS.ProcessEnv, n: NameOf): QueueConfig | undefined {
  if (!o.queue) {
    if (o.sqsEndpoint) throw usage(`${n('sqsEndpoint')} needs ${n('queue')}`);
    if (o.rowsPerMessage !== undefined && o.rowsPerMessage !== '') {
      throw usage(`${n('rowsPerMessage')} needs ${n('queue')}`);
    }
    // The CLI always hands over its default: only another value is a mistake.
    if (o.messageBytes !== undefined && Number(o.messageBytes) !== QUEUE_DEFAULTS.messageBytes) {
      throw usage(`${n('messageBytes')} needs ${n('queue')}`);
    }
    return undefined;
  }
  const queueUrl = checkQueueUrl(n('queue'), o.queue);
  const messageBytes = rule.wholeNumber(
    n('messageBytes'),
    o.messageBytes ?? QUEUE_DEFAULTS.messageBytes,
    1024,
    SQS_MAX_BYTES,
  );
  const retries = rule.wholeNumber(n('retries'), o.retries ?? DEFAULT_RETRY_POLICY.retries, 0, 100);
  const rows = o.rowsPerMessage;
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, o.sqsEndpoint, env),
    messageBytes,
    inFlightBytes: IN_FLIGHT_BYTES,
    ...(rows !== undefined ? { rowsPerMessage: rule.wholeNumber(n('rowsPerMessage'), rows, 1, 100_000) } : {}),
    retry: { ...DEFAULT_RETRY_POLICY, retries },
  });
}
