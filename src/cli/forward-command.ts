import type { Command } from 'commander';
import { FORWARDER_DEFAULTS, type ForwarderConfig } from '../lambda/config.js';
import { usage } from '../errors.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import { parseTarget, type TargetFlags } from './config.js';
import { addTargetOptions, type TargetFlagDefaults } from './options.js';
import * as v from './parse-values.js';

const EXAMPLES = `
Examples:
  $ bulk-import forward --queue "$QUEUE_URL" --to https://api.example.com/listings -H "Authorization: Bearer $TOKEN"
  $ bulk-import forward --queue "$QUEUE_URL" --to http://localhost:8080/items --pollers 4 --until-empty
Each poller is one forwarder "container" with its own keep-alive lanes and cookie jars, as one
Lambda execution environment would be. A request refused for its content (400/409/413/422) is halved
until each refused row stands alone; those rows go to --rejects-queue (replay them with
\`bulk-import replay --queue URL --to API\`), and without one their message stays on the queue. An
answer that says the endpoint is wrong (3xx, 401, 403, 404, …) leaves every message on the queue and
is logged once. A message that keeps failing comes back after the visibility timeout until the
queue's RedrivePolicy moves it to a dead-letter queue; until then --until-empty does not consider
the queue empty.`;

interface ForwardFlags extends TargetFlags {
  queue?: string;
  sqsEndpoint?: string;
  pollers?: string;
  visibilityTimeout?: string;
  untilEmpty?: boolean;
  rejectsQueue?: string;
}

export interface ForwardConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly forwarder: ForwarderConfig;
  readonly pollers: number;
  readonly visibilitySeconds?: number;
  readonly untilEmpty: boolean;
  /** Where rows the API refuses one by one go; without it their message stays on the queue. */
  readonly rejectsQueueUrl?: string;
}

const FORWARD_TARGET_DEFAULTS: TargetFlagDefaults = {
  batchSize: FORWARDER_DEFAULTS.batchSize,
  concurrency: FORWARDER_DEFAULTS.concurrency,
  retries: FORWARDER_DEFAULTS.retries,
  timeout: '10s',
  concurrencyHelp: 'API requests in flight per poller (one lane each)',
  retriesHelp: 'retries per API request before its message is left for redelivery',
};

export function registerForward(program: Command): void {
  const cmd = program
    .command('forward')
    .description('poll an SQS queue and forward its rows to an API: the Lambda forwarder, run anywhere')
    .option('--queue <url>', 'the SQS queue to poll')
    .option('--sqs-endpoint <url>', 'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)');
  addTargetOptions(cmd, FORWARD_TARGET_DEFAULTS)
    .option('--pollers <n>', 'independent pollers, each with its own HTTP client', '2')
    .option('--visibility-timeout <seconds>', "how long received messages stay hidden (default: the queue's setting)")
    .option('--until-empty', 'exit once the queue stays empty (otherwise run until SIGINT/SIGTERM)')
    .option('--rejects-queue <url>', 'SQS queue for rows the API refuses one by one (default: none; their message stays on the queue)')
    .addHelpText('after', EXAMPLES);
  cmd.action(async (flags: ForwardFlags) => {
    const config = parseForwardConfig(flags, process.env);
    // The AWS SDK and the HTTP client load only once the flags are known to be good.
    const { runForward } = await import('./forward-run.js');
    await runForward(config);
  });
}

export function parseForwardConfig(flags: ForwardFlags, env: NodeJS.ProcessEnv): ForwardConfig {
  const queueUrl = checkQueueUrl('--queue', flags.queue);
  const target = parseTarget(flags, FORWARD_TARGET_DEFAULTS);
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, flags.sqsEndpoint, env),
    forwarder: {
      // A retry inside one poll waits briefly: SQS redelivery is the longer retry.
      target: { ...target, retry: { ...target.retry, maxDelayMs: FORWARDER_DEFAULTS.maxRetryDelayMs } },
      batchSize: v.wholeNumber('--batch-size', flags.batchSize ?? String(FORWARDER_DEFAULTS.batchSize), 1, 100_000),
      concurrency: v.wholeNumber('--concurrency', flags.concurrency ?? String(FORWARDER_DEFAULTS.concurrency), 1, 1024),
      safetyMs: FORWARDER_DEFAULTS.safetyMs,
      secretHeaders: {},
    },
    pollers: v.wholeNumber('--pollers', flags.pollers ?? '2', 1, 256),
    ...(flags.visibilityTimeout !== undefined ? { visibilitySeconds: v.wholeNumber('--visibility-timeout', flags.visibilityTimeout, 1, 43_200) } : {}),
    untilEmpty: flags.untilEmpty === true,
    ...(flags.rejectsQueue !== undefined ? { rejectsQueueUrl: rejectsQueueOf(queueUrl, flags.rejectsQueue) } : {}),
  });
}

function rejectsQueueOf(queueUrl: string, raw: string): string {
  const url = checkQueueUrl('--rejects-queue', raw);
  const same = url.replace(/\/$/, '') === queueUrl.replace(/\/$/, '');
  if (same) throw usage('--rejects-queue must differ from --queue: refused rows would come straight back');
  return url;
}
