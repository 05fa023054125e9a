import type { Command } from 'commander';
import { FORWARD_DEFAULTS, FORWARDER_DEFAULTS } from '../config/defaults.js';
import { buildForwardConfig, type ForwardOptions } from '../config/forward-config.js';
import { flagName } from '../config/names.js';
import { addTargetOptions, type TargetFlagDefaults } from './options.js';

const EXAMPLES = `
Examples:
  $ bulk-import forward --queue "$QUEUE_URL" --to https://api.example.com/listings -H "Authorization: Bearer $TOKEN"
  $ bulk-import forward --queue "$QUEUE_URL" --to http://localhost:8080/items --pollers 4 --until-empty
  $ bulk-import forward --queue "$QUEUE_URL" --to https://api.example.com/listings --concurrency auto --rate 500
Each poller is one forwarder "container" with its own keep-alive lanes and cookie jars, as one
Lambda execution environment would be. A request refused for its content (400/409/413/422) is halved
until each refused row stands alone; those rows go to --rejects-queue (replay them with
\`bulk-import replay --queue URL --to API\`), and without one their message stays on the queue. An
answer that says the endpoint is wrong (3xx, 401, 403, 404, …) leaves every message on the queue and
is logged once. A message that keeps failing comes back after the visibility timeout until the
queue's RedrivePolicy moves it to a dead-letter queue; until then --until-empty does not consider
the queue empty. With --concurrency auto each poller has its own limiter, as each Lambda container
does; --rate is one limit for all pollers together.`;

interface ForwardFlags extends ForwardOptions {
  header?: string[];
}

const FORWARD_TARGET_DEFAULTS: TargetFlagDefaults = {
  batchSize: FORWARDER_DEFAULTS.batchSize,
  concurrency: FORWARDER_DEFAULTS.concurrency,
  retries: FORWARDER_DEFAULTS.retries,
  timeout: FORWARD_DEFAULTS.timeout,
  concurrencyHelp: 'API requests in flight per poller (one lane each), or auto to follow the API',
  retriesHelp: 'retries per API request before its message is left for redelivery',
};

export function registerForward(program: Command): void {
  const cmd = program
    .command('forward')
    .description('poll an SQS queue and forward its rows to an API: the Lambda forwarder, run anywhere')
    .option('--queue <url>', 'the SQS queue to poll')
    .option(
      '--sqs-endpoint <url>',
      'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)',
    );
  addTargetOptions(cmd, FORWARD_TARGET_DEFAULTS)
    .option(
      '--max-concurrency <n>',
      `with --concurrency auto: the most requests in flight per poller (default: ${FORWARDER_DEFAULTS.maxConcurrency})`,
    )
    .option('--pollers <n>', 'independent pollers, each with its own HTTP client', String(FORWARD_DEFAULTS.pollers))
    .option('--visibility-timeout <seconds>', "how long received messages stay hidden (default: the queue's setting)")
    .option('--until-empty', 'exit once the queue stays empty (otherwise run until SIGINT/SIGTERM)')
    .option(
      '--rejects-queue <url>',
      'SQS queue for rows the API refuses one by one (default: none; their message stays on the queue)',
    )
    .addHelpText('after', EXAMPLES);
  cmd.action(async (flags: ForwardFlags) => {
    const config = buildForwardConfig(flags, process.env, flagName);
    // The AWS SDK and the HTTP client load only once the flags are known to be good.
    const { forwardCommand } = await import('./forward-run.js');
    await forwardCommand(config);
  });
}
