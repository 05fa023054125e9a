import type { Command } from 'commander';
import { checkQueueUrl, resolveSqsConnection } from '../queue/sqs-endpoint.js';

const EXAMPLES = `
Example:
  $ bulk-import queue-status --queue "$QUEUE_URL"
The dead-letter queue is found from the queue's RedrivePolicy unless --dlq names it.`;

interface QueueStatusFlags {
  queue?: string;
  sqsEndpoint?: string;
  dlq?: string;
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export function registerQueueStatus(program: Command): void {
  program
    .command('queue-status')
    .description('how many messages a queue holds: visible, in flight, delayed, and in its dead-letter queue')
    .option('--queue <url>', 'the SQS queue')
    .option(
      '--sqs-endpoint <url>',
      'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)',
    )
    .option('--dlq <url>', "the dead-letter queue (default: from the queue's RedrivePolicy)")
    .addHelpText('after', EXAMPLES)
    .action(async (flags: QueueStatusFlags) => {
      const queueUrl = checkQueueUrl('--queue', flags.queue);
      const dlqFlag = flags.dlq === undefined ? undefined : checkQueueUrl('--dlq', flags.dlq);
      const connection = resolveSqsConnection(queueUrl, flags.sqsEndpoint, process.env);
      // Loaded only now that the flags are good: the SDK is the heavy part of this command.
      const sdk = await import('@aws-sdk/client-sqs');
      const { createSqsClient, sqsFailure } = await import('../queue/sqs-client.js');
      const sqs = createSqsClient(connection);
      const depthOf = async (url: string) => {
        try {
          const res = await sqs.send(new sdk.GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
          return res.Attributes ?? {};
        } catch (err) {
          throw sqsFailure(`queue-status ${url}`, url, err);
        }
      };
      try {
        const main = await depthOf(queueUrl);
        const lines = [`queue ${queueUrl}: ${formatDepth(depthFrom(main))}`];
        const redrive = parseRedrive(main.RedrivePolicy);
        let dlqUrl = dlqFlag;
        if (!dlqUrl && redrive) {
          const { name, account } = redrive;
          const res = await sqs
            .send(new sdk.GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
            .catch((err: unknown) => {
              throw sqsFailure(`queue-status: dead-letter queue ${name}`, name, err);
            });
          dlqUrl = res.QueueUrl;
        }
        if (dlqUrl) {
          const dlq = depthFrom(await depthOf(dlqUrl));
          const receives = redrive ? ` (after ${redrive.maxReceiveCount} receives)` : '';
          const held = dlq.visible + dlq.inFlight + dlq.delayed;
          lines.push(`dlq   ${dlqUrl}: ${held} message${held === 1 ? '' : 's'}${receives}`);
        } else
          lines.push('dlq   none (the queue has no RedrivePolicy: failing messages are retried until they expire)');
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        sqs.destroy();
      }
    });
}

export function depthFrom(a: Record<string, string>): QueueDepth {
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

export function formatDepth(d: QueueDepth): string {
  return `${d.visible} visible, ${d.inFlight} in flight, ${d.delayed} delayed`;
}

/** `{"deadLetterTargetArn":"arn:aws:sqs:REGION:ACCOUNT:NAME","maxReceiveCount":5}` → its parts. */
export function parseRedrive(
  raw: string | undefined,
): { name: string; account: string; maxReceiveCount: number } | undefined {
  if (!raw) return undefined;
  try {
    const p = JSON.parse(raw) as { deadLetterTargetArn?: string; maxReceiveCount?: number | string };
    const parts = (p.deadLetterTargetArn ?? '').split(':');
    if (parts.length < 6 || parts[2] !== 'sqs') return undefined;
    return { name: parts[5] as string, account: parts[4] as string, maxReceiveCount: Number(p.maxReceiveCount) };
  } catch {
    return undefined;
  }
}
