import type { Command } from 'commander';
import { IMPORT_DEFAULTS } from '../config/defaults.js';
import { runImport, type RunResult } from '../index.js';
import { parseRunConfig, type RunFlags } from './config.js';
import { exitCodeFor } from './exit-codes.js';
import { addRunFlowOptions, addSourceOptions, addTargetOptions } from './options.js';
import { progressView } from './progress-bar.js';
import { addQueueOptions } from './queue-options.js';
import { maskArgv } from './argv-secrets.js';
import { trapStopSignals } from './signals.js';
import { formatSummary, writeSummaryJson } from './summary.js';

const EXAMPLES = `
Examples:
  $ bulk-import run --from "$DATABASE_URL" --table listings --to https://api.example.com/listings \\
      --batch-size 100 --concurrency 32 --header "Authorization: Bearer $TOKEN"
  $ bulk-import run --from rows.ndjson --to http://localhost:8080/items --batch-size 1
  $ bulk-import run … --checkpoint listings.ckpt.json --resume      # carry on after a stop
  $ bulk-import run --from "$DATABASE_URL" --query "SELECT id, title FROM listings" --to … --dry-run
  $ bulk-import run --from "$DATABASE_URL" --table listings --queue "$QUEUE_URL" --checkpoint q.ckpt.json   # queue mode
  $ bulk-import run --from "$DATABASE_URL" --table listings --to … --shard 3/8 --plan plan.json   # one shard`;

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('import rows from PostgreSQL or NDJSON into an HTTP API')
    .addHelpText('after', EXAMPLES);
  addQueueOptions(addRunFlowOptions(addTargetOptions(addSourceOptions(cmd))));
  cmd
    .option('--shard <k/n>', "read only the k-th of the plan's n key ranges (with --plan)")
    .option('--plan <file>', 'the plan file made by `bulk-import plan`, the same on every machine');
  cmd.option(
    '--max-concurrency <n>',
    `with --concurrency auto: the most requests in flight (default: ${IMPORT_DEFAULTS.maxConcurrency})`,
  );
  cmd.action(async (flags: RunFlags) => {
    const config = parseRunConfig(flags, process.env);
    const view = progressView(config.progress);
    const stop = trapStopSignals((sig) => {
      view.stop();
      process.stderr.write(
        `\n${sig}: stopping: no new reads, letting requests in flight finish (${sig} again to abort them)…\n`,
      );
    });
    let result: RunResult;
    try {
      result = await runImport(config, {
        signal: stop.signal,
        hardSignal: stop.hardSignal,
        onProgress: (p) => view.update(p),
        onWarning: (line) => process.stderr.write(`warning: ${line}\n`),
      });
    } finally {
      view.stop();
      stop.dispose();
    }
    process.stdout.write(`${formatSummary(result)}\n`);
    if (config.summaryJson) await writeSummaryJson(config.summaryJson, result);
    if (result.stoppedBy === 'interrupted' || result.stoppedBy === 'aborted') {
      if (result.checkpointPath)
        process.stderr.write(`resume with: ${resumeCommand(process.argv, result.checkpointPath)}\n`);
    }
    // The job's failures, not this run's: a resumed run that sends the rest cleanly has still not delivered every row.
    process.exitCode = exitCodeFor({ stoppedBy: result.stoppedBy, signal: stop.received(), failed: result.failed });
  });
}

/** The command line as given, plus --resume unless it is a --catch-up (and the checkpoint path if it was the default), secrets masked. */
function resumeCommand(argv: string[], checkpoint: string): string {
  const args = maskArgv(argv.slice(2).filter((a) => a !== '--restart' && a !== '--resume'));
  const out = ['bulk-import', ...args];
  if (!args.some((a) => a === '--checkpoint' || a.startsWith('--checkpoint='))) out.push('--checkpoint', checkpoint);
  // A catch-up carries on by running --catch-up again (it is already in the command line).
  if (!args.includes('--catch-up')) out.push('--resume');
  return out.map(shellQuote).join(' ');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
