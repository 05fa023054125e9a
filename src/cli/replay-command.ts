import type { Command } from 'commander';
import { REPLAY_QUEUE_DEFAULTS } from '../config/defaults.js';
import { flagName } from '../config/names.js';
import { buildReplayConfig, type ReplayOptions } from '../config/replay-config.js';
import { replay } from '../index.js';
import { exitCodeFor } from './exit-codes.js';
import { addTargetOptions } from './options.js';
import { progressView } from './progress-bar.js';
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

interface ReplayFlags extends ReplayOptions {
  header?: string[];
}

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay [failed-file]')
    .description(
      'send the rows of a failed-rows file, or of a rejects / dead-letter queue, again after fixing the cause',
    )
    .addHelpText('after', EXAMPLES);
  addTargetOptions(cmd)
    .option('--queue <url>', 'replay the messages of this SQS queue (a rejects queue or a DLQ) instead of a file')
    .option(
      '--sqs-endpoint <url>',
      'SQS endpoint, e.g. an emulator (default: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, or AWS)',
    )
    .option(
      '--visibility-timeout <seconds>',
      `with --queue: how long a received message stays hidden while its rows go out (default: ${REPLAY_QUEUE_DEFAULTS.visibilitySeconds})`,
    )
    .option('--failed <file>', 'where rows that fail again go (default: <failed-file>.again.ndjson)')
    .option('--no-progress', 'no progress bar');
  cmd.action(async (file: string | undefined, flags: ReplayFlags) => {
    const config = buildReplayConfig({ ...flags, ...(file !== undefined ? { file } : {}) }, process.env, flagName);
    if (config.kind === 'queue') {
      // The AWS SDK loads only once the flags are known to be good.
      const { replayQueueCommand } = await import('./replay-queue-run.js');
      await replayQueueCommand(config);
      return;
    }
    const view = progressView(config.run.progress);
    const stop = trapStopSignals(() => view.stop());
    try {
      const r = await replay(config, {
        signal: stop.signal,
        hardSignal: stop.hardSignal,
        onProgress: (p) => view.update(p),
      });
      if (r.kind !== 'file') return;
      const result = r.result;
      view.stop();
      process.stdout.write(`${formatSummary(result)}\n`);
      // This run's failures: the rows of the file that failed again.
      const { stoppedBy, thisRun } = result;
      process.exitCode = exitCodeFor({ stoppedBy, signal: stop.received(), failed: thisRun.failed });
    } finally {
      view.stop();
      stop.dispose();
    }
  });
}
