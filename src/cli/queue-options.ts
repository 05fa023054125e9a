import type { Command } from 'commander';
import { QUEUE_DEFAULTS } from '../config/defaults.js';
import { SQS_MAX_BYTES } from '../queue/message-packer.js';

/** Queue mode's flags on `run`: rows go to SQS instead of an API (then --to is not needed). */
export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option('--queue <url>', 'enqueue rows to this SQS queue instead of sending them to --to (queue mode)')
    .option(
      '--sqs-endpoint <url>',
      'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)',
    )
    .option(
      '--message-bytes <n>',
      `queue mode: bytes per message, attributes included (max ${SQS_MAX_BYTES})`,
      String(QUEUE_DEFAULTS.messageBytes),
    )
    .option(
      '--rows-per-message <n>',
      'queue mode: at most n rows per message (default: as many as --message-bytes allows)',
    );
}
