import type { Command } from 'commander';
import { wholeNumber } from '../config/rules.js';
import { exitCodeFor } from './exit-codes.js';
import { trapStopSignals } from './signals.js';

const EXAMPLES = `
Examples:
  $ npx bulk-import demo                 # 100,000 rows, sticky lanes vs --sticky off
  $ npx bulk-import demo --rows 20000
  $ npx bulk-import demo --queue         # then the same rows through SQS (emulator) and forward
  $ npx bulk-import demo --serve         # leave PostgreSQL and the API running, print commands to try`;

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run a real import on embedded parts: PostgreSQL (pglite) → bulk-import → 3 API backends behind a sticky balancer',
    )
    .option('--rows <n>', 'rows to seed', '100000')
    .option('--batch-size <n>', 'rows per request', '100')
    .option('--concurrency <n>', 'lanes', '10')
    .option('--queue', 'also run the queue path: enqueue into an SQS emulator (fauxqs), then `forward` into the API')
    .option(
      '--serve',
      'leave the database and the API (and with --queue the queue) running and print commands to try; Ctrl-C stops them',
    )
    .addHelpText('after', EXAMPLES)
    .action(
      async (flags: { rows: string; batchSize: string; concurrency: string; serve?: boolean; queue?: boolean }) => {
        const rows = wholeNumber('--rows', flags.rows, 1, 10_000_000);
        const batchSize = wholeNumber('--batch-size', flags.batchSize, 1, 10_000);
        const concurrency = wholeNumber('--concurrency', flags.concurrency, 1, 256);
        // The demo's servers and children load only when the demo runs, not with every command.
        const { runDemo } = await import('../demo/run-demo.js');
        const stop = trapStopSignals();
        try {
          const outcome = await runDemo({
            rows,
            batchSize,
            concurrency,
            serve: flags.serve === true,
            queue: flags.queue === true,
            signal: stop.signal,
            out: (line) => process.stdout.write(`${line}\n`),
          });
          process.exitCode = exitCodeFor({ ...outcome, signal: stop.received() });
        } finally {
          stop.dispose();
        }
      },
    );
}
