import type { Command } from 'commander';
import { usage } from '../errors.js';
import { FORWARDER_DEFAULTS } from '../lambda/config.js';
import { checkQueueUrl, resolveSqsConnection } from '../queue/sqs-endpoint.js';
import { runImport } from '../run-import.js';
import { DEFAULTS, parseRunConfig, parseTarget, type RunFlags } from './config.js';
import { EXIT, exitCodeForSignal } from './exit-codes.js';
import { addTargetOptions } from './options.js';
import { progressView } from './progress-bar.js';
import type { ReplayQueueConfig } from './replay-queue-run.js';
import * as v from './parse-values.js';
import { trapStopSignals } from './signals.js';
import { formatSummary } from './summary.js';

const EXAMPLES = `
Examples:
  $ bulk-import replay listings.failed.ndjson --to https://api.example.com/listings -H "Authorization: Bearer $TOKEN"
  Rows that fail again are written to a new file (default: <file>.again.ndjson).
  $ bulk-import replay --queue "$REJECTS_QUEUE_URL" --to https://api.example.com/listings --failed again.ndjson
  Re-sends the messages of a rejects queue or a dead-letter queue (queue-mode envelopes); a message is
  deleted once each of its rows was delivered or written to --failed (default:
  replay-<queue name>.failed.ndjson). Messages not delivered for another reason stay on the queue.`;

interface ReplayFlags extends RunFlags {
  queue?: string;
  sqsEndpoint?: string;
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay [failed-file]')
    .description('send the rows of a failed-rows file, or of a rejects / dead-letter queue, again after fixing the cause')
    .addHelpText('after', EXAMPLES);
  addTargetOptions(cmd)
    .option('--queue <url>', 'replay the messages of this SQS queue (a rejects queue or a DLQ) instead of a file')
    .option('--sqs-endpoint <url>', 'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)')
    .option('--failed <file>', 'where rows that fail again go (default: <failed-file>.again.ndjson)')
    .option('--no-progress', 'no progress bar');
  cmd.action(async (file: string | undefined, flags: ReplayFlags) => {
    if (flags.queue !== undefined) {
      if (file !== undefined) throw usage('replay takes a failed-rows file or --queue, not both');
      const config = parseReplayQueueConfig(flags, process.env);
      // The AWS SDK loads only once the flags are known to be good.
      const { runReplayQueue } = await import('./replay-queue-run.js');
      await runReplayQueue(config);
      return;
    }
    if (file === undefined) throw usage('replay needs a failed-rows file, or --queue URL for a rejects or dead-letter queue');
    if (flags.sqsEndpoint !== undefined) throw usage('--sqs-endpoint needs --queue');
    const failed = flags.failed ?? `${file.replace(/\.ndjson$/, '')}.again.ndjson`;
    if (failed === file) throw usage('--failed must differ from the file being replayed');
    const base = parseRunConfig({ ...flags, from: file, checkpoint: false, failed }, {});
    const config = { ...base, source: { kind: 'failed-rows' as const, path: file } };
    const view = progressView(config.progress);
    const stop = trapStopSignals(() => view.stop());
    try {
      const result = await runImport(config, { signal: stop.signal, hardSignal: stop.hardSignal, onProgress: (p) => view.update(p) });
      view.stop();
      process.stdout.write(`${formatSummary(result)}\n`);
      if (result.stoppedBy === 'interrupted' || result.stoppedBy === 'aborted') process.exitCode = exitCodeForSignal(stop.received());
      else process.exitCode = result.thisRun.failed > 0 ? EXIT.rowsFailed : EXIT.ok;
    } finally {
      view.stop();
      stop.dispose();
    }
  });
}

export function parseReplayQueueConfig(flags: ReplayFlags, env: NodeJS.ProcessEnv): ReplayQueueConfig {
  const queueUrl = checkQueueUrl('--queue', flags.queue);
  const target = parseTarget(flags);
  const name = new URL(queueUrl).pathname.split('/').filter(Boolean).at(-1) ?? 'queue';
  const failed = flags.failed ?? `replay-${name}.failed.ndjson`;
  if (failed === false || failed === '') throw usage('--failed must name a file (got an empty string): rows that fail again need a place');
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, flags.sqsEndpoint, env),
    failed,
    forwarder: {
      target,
      batchSize: flags.batchSize === undefined ? DEFAULTS.batchSize : v.wholeNumber('--batch-size', flags.batchSize, 1, 100_000),
      concurrency: flags.concurrency === undefined ? DEFAULTS.concurrency : v.wholeNumber('--concurrency', flags.concurrency, 1, 1024),
      safetyMs: FORWARDER_DEFAULTS.safetyMs,
      secretHeaders: {},
    },
  });
}
