import type { Command } from 'commander';
import { usage } from '../errors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../http/retry-policy.js';
import { SQS_MAX_BYTES } from '../queue/message-packer.js';
import { costPerMillionRows } from '../queue/pricing.js';
import type { EnqueueCounters } from '../queue/send-batch.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import * as v from './parse-values.js';

/** Queue mode's flags on `run`: rows go to SQS instead of an API (then --to is not needed). */
export const QUEUE_DEFAULTS = {
  /** SQS bills every 64 KiB of a request as one request: a full chunk per message is the floor. */
  messageBytes: 65_536,
} as const;

export interface QueueFlags {
  queue?: string;
  sqsEndpoint?: string;
  messageBytes?: string;
  rowsPerMessage?: string;
  /** run's own --retries, reused for SendMessageBatch. */
  retries?: string;
}

export interface QueueConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly messageBytes: number;
  readonly rowsPerMessage?: number;
  readonly retry: RetryPolicy;
}

export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option('--queue <url>', 'enqueue rows to this SQS queue instead of sending them to --to (queue mode)')
    .option('--sqs-endpoint <url>', 'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)')
    .option('--message-bytes <n>', `queue mode: bytes per message, attributes included (max ${SQS_MAX_BYTES})`, String(QUEUE_DEFAULTS.messageBytes))
    .option('--rows-per-message <n>', 'queue mode: at most n rows per message (default: as many as --message-bytes allows)');
}

/** The queue flags checked once; undefined when --queue is not given (direct mode). */
export function parseQueueConfig(flags: QueueFlags, env: NodeJS.ProcessEnv): QueueConfig | undefined {
  if (!flags.queue) {
    if (flags.sqsEndpoint) throw usage('--sqs-endpoint needs --queue');
    if (flags.rowsPerMessage) throw usage('--rows-per-message needs --queue');
    if (flags.messageBytes !== undefined && Number(flags.messageBytes) !== QUEUE_DEFAULTS.messageBytes) throw usage('--message-bytes needs --queue');
    return undefined;
  }
  const queueUrl = checkQueueUrl('--queue', flags.queue);
  const messageBytes = flags.messageBytes === undefined ? QUEUE_DEFAULTS.messageBytes : v.wholeNumber('--message-bytes', flags.messageBytes, 1024, SQS_MAX_BYTES);
  const retries = flags.retries === undefined ? DEFAULT_RETRY_POLICY.retries : v.wholeNumber('--retries', flags.retries, 0, 100);
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, flags.sqsEndpoint, env),
    messageBytes,
    ...(flags.rowsPerMessage !== undefined ? { rowsPerMessage: v.wholeNumber('--rows-per-message', flags.rowsPerMessage, 1, 100_000) } : {}),
    retry: { ...DEFAULT_RETRY_POLICY, retries },
  });
}

/** What runImport records as the job's target (part of the job id and the checkpoint). */
export function queueTargetDescription(q: QueueConfig): string {
  return `SQS ${q.queueUrl}`;
}

/** The summary's queue line: messages, SQS requests as billed, and their list price per million rows. */
export function formatQueueSummary(c: EnqueueCounters, rowsEnqueued: number): string {
  const cost = costPerMillionRows(c, rowsEnqueued);
  return (
    `  queue: ${c.messages} messages in ${c.calls} SendMessageBatch calls = ${c.billed} billed SQS requests` +
    ` (every 64 KiB counts); $${cost.toFixed(4)} per million rows at $0.40 per million requests`
  );
}
