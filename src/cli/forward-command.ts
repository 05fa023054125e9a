import { Option, type Command } from 'commander';
import { usage } from '../errors.js';
import { DEFAULT_RETRY_POLICY } from '../http/retry-policy.js';
import { FORWARDER_DEFAULTS, type ForwarderConfig } from '../lambda/config.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import * as v from './parse-values.js';

const EXAMPLES = `
Examples:
  $ bulk-import forward --queue "$QUEUE_URL" --to https://api.example.com/listings -H "Authorization: Bearer $TOKEN"
  $ bulk-import forward --queue "$QUEUE_URL" --to http://localhost:8080/items --pollers 4 --until-empty
Each poller is one forwarder "container" with its own keep-alive lanes and cookie jars, as one
Lambda execution environment would be. Rows the API rejects (4xx) are logged as JSON lines on stderr.
A message that keeps failing comes back after the visibility timeout until the queue's RedrivePolicy
moves it to a dead-letter queue; until then --until-empty does not consider the queue empty.`;

interface ForwardFlags {
  queue?: string;
  to?: string;
  sqsEndpoint?: string;
  method?: string;
  header?: string[];
  batchSize?: string;
  concurrency?: string;
  sticky?: string;
  retries?: string;
  timeout?: string;
  pollers?: string;
  visibilityTimeout?: string;
  untilEmpty?: boolean;
}

export interface ForwardConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly forwarder: ForwarderConfig;
  readonly pollers: number;
  readonly visibilitySeconds?: number;
  readonly untilEmpty: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerForward(program: Command): void {
  const cmd = program
    .command('forward')
    .description('poll an SQS queue and forward its rows to an API: the Lambda forwarder, run anywhere')
    .option('--queue <url>', 'the SQS queue to poll')
    .option('--to <url>', 'the API endpoint rows are forwarded to')
    .option('--sqs-endpoint <url>', 'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)')
    .option('--method <method>', 'HTTP method', FORWARDER_DEFAULTS.method)
    .option('-H, --header <"Name: value">', 'request header, repeatable (secret values are never printed)', collect)
    .option('--batch-size <n>', 'rows per API request: 1 sends a JSON object, more a JSON array', String(FORWARDER_DEFAULTS.batchSize))
    .option('--concurrency <n>', 'API requests in flight per poller (one lane each)', String(FORWARDER_DEFAULTS.concurrency))
    .addOption(new Option('--sticky <mode>', 'cookie jar per lane, one per poller, or no cookies').choices(['lane', 'shared', 'off']).default(FORWARDER_DEFAULTS.sticky))
    .option('--retries <n>', 'retries per API request before its message is left for redelivery', String(FORWARDER_DEFAULTS.retries))
    .option('--timeout <duration>', 'per-request timeout (10s, 1500ms, 2m)', '10s')
    .option('--pollers <n>', 'independent pollers, each with its own HTTP client', '2')
    .option('--visibility-timeout <seconds>', "how long received messages stay hidden (default: the queue's setting)")
    .option('--until-empty', 'exit once the queue stays empty (otherwise run until SIGINT/SIGTERM)')
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
  if (!flags.to) throw usage('--to is required: the API endpoint rows are forwarded to');
  const method = (flags.method ?? FORWARDER_DEFAULTS.method).toUpperCase();
  if (!['POST', 'PUT', 'PATCH'].includes(method)) throw usage(`--method must be POST, PUT or PATCH (got ${JSON.stringify(flags.method)})`);
  const retries = v.wholeNumber('--retries', flags.retries ?? String(FORWARDER_DEFAULTS.retries), 0, 100);
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, flags.sqsEndpoint, env),
    forwarder: {
      target: {
        url: v.httpUrl('--to', flags.to),
        method,
        headers: v.headers(flags.header ?? []),
        sticky: v.oneOf('--sticky', flags.sticky ?? FORWARDER_DEFAULTS.sticky, ['lane', 'shared', 'off'] as const),
        timeoutMs: v.duration('--timeout', flags.timeout ?? '10s'),
        retry: { ...DEFAULT_RETRY_POLICY, retries, maxDelayMs: FORWARDER_DEFAULTS.maxRetryDelayMs },
      },
      batchSize: v.wholeNumber('--batch-size', flags.batchSize ?? String(FORWARDER_DEFAULTS.batchSize), 1, 100_000),
      concurrency: v.wholeNumber('--concurrency', flags.concurrency ?? String(FORWARDER_DEFAULTS.concurrency), 1, 1024),
      safetyMs: FORWARDER_DEFAULTS.safetyMs,
      secretHeaders: {},
    },
    pollers: v.wholeNumber('--pollers', flags.pollers ?? '2', 1, 256),
    ...(flags.visibilityTimeout !== undefined ? { visibilitySeconds: v.wholeNumber('--visibility-timeout', flags.visibilityTimeout, 1, 43_200) } : {}),
    untilEmpty: flags.untilEmpty === true,
  });
}
