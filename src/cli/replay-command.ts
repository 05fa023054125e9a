import type { Command } from 'commander';
import { usage } from '../errors.js';
import { runImport } from '../run-import.js';
import { parseRunConfig, type RunFlags } from './config.js';
import { EXIT, exitCodeForSignal } from './exit-codes.js';
import { addTargetOptions } from './options.js';
import { progressView } from './progress-bar.js';
import { trapStopSignals } from './signals.js';
import { formatSummary } from './summary.js';

const EXAMPLES = `
Examples:
  $ bulk-import replay listings.failed.ndjson --to https://api.example.com/listings -H "Authorization: Bearer $TOKEN"
  Rows that fail again are written to a new file (default: <file>.again.ndjson).`;

export function registerReplay(program: Command): void {
  const cmd = program
    .command('replay <failed-file>')
    .description('send the rows of a failed-rows file again, after fixing the cause')
    .addHelpText('after', EXAMPLES);
  addTargetOptions(cmd)
    .option('--failed <file>', 'where rows that fail again go (default: <failed-file>.again.ndjson)')
    .option('--no-progress', 'no progress bar');
  cmd.action(async (file: string, flags: RunFlags) => {
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
