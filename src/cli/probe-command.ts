import type { Command } from 'commander';
import { PROBE_DEFAULTS } from '../config/defaults.js';
import { buildProbeConfig, type ProbeConfig, type ProbeOptions } from '../config/probe-config.js';
import { flagName } from '../config/names.js';
import { runProbe, type ProbeResult } from '../probe/run-probe.js';
import { stepLine, stepTable, verdictLines } from '../probe/probe-report.js';
import { redactUrl } from '../redact.js';
import { maskArgv } from './argv-secrets.js';
import { exitCodeFor } from './exit-codes.js';
import { addSourceOptions } from './options.js';
import { trapStopSignals } from './signals.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const EXAMPLES = `
Its rows are real rows: it sends them only with --yes, or to a loopback test endpoint
(--to on localhost, 127.x.x.x or [::1]); --dry-run sends nothing. It writes no checkpoint.

Examples:
  $ bulk-import probe --from "$DATABASE_URL" --table listings --to https://api/listings --rows 20000 --yes
  $ bulk-import probe … --to http://localhost:8080/listings --batch-sizes 1,10,100 --max-concurrency 128
  $ bulk-import probe … --dry-run                 # read the first batch, show the plan, send nothing`;

/** The flags only probe has (and `run` must not get when probe prints the command to use). */
const PROBE_ONLY = [
  '--rows',
  '--max-concurrency',
  '--step-time',
  '--max-time',
  '--batch-sizes',
  '--sticky',
  '--batch-size',
];
const PROBE_SWITCHES = ['--yes', '--dry-run'];

export function registerProbe(program: Command): void {
  const cmd = program
    .command('probe')
    .description(
      "find the API's knee: send real batches at concurrency 1, 2, 4… per sticky mode, and say what to run with",
    )
    .addHelpText('after', EXAMPLES);
  addSourceOptions(cmd)
    .option('--to <url>', 'the API endpoint, as `run` would be given it')
    .option('--method <method>', 'HTTP method (default: POST)')
    .option('-H, --header <"Name: value">', 'request header, repeatable (secret values are never printed)', collect)
    .option('--batch-size <n>', 'rows per request (default: 100)')
    .option('--batch-sizes <list>', 'several batch sizes to compare, e.g. 1,10,100')
    .option('--sticky <modes>', `sticky modes to compare (default: ${PROBE_DEFAULTS.sticky})`)
    .option('--max-concurrency <n>', `the highest concurrency tried (default: ${PROBE_DEFAULTS.maxConcurrency})`)
    .option('--rows <n>', `real rows it may send in all (default: ${PROBE_DEFAULTS.rows})`)
    .option('--step-time <duration>', `each step runs at most this long (default: ${PROBE_DEFAULTS.stepTime})`)
    .option('--max-time <duration>', `the whole probe runs at most this long (default: ${PROBE_DEFAULTS.maxTime})`)
    .option('--timeout <duration>', 'deadline per request (default: 30s)')
    .option('--target-header <name>', 'a response header that names the target that answered')
    .option('--max-body-bytes <n>', 'cut batches into requests of at most n bytes')
    .option('--transform <module>', 'a .js/.mjs module mapping each row to its payload, as `run` takes it')
    .option('--transform-timeout <duration>', 'a row whose transform has not answered by then is not sent')
    .option('--concurrency <n>', 'not taken: probe tries 1, 2, 4… itself')
    .option('--yes', 'send the real rows (needed unless --to is a loopback test endpoint)')
    .option('--dry-run', 'read the first batch and show the plan; send nothing');
  cmd.action(async (flags: ProbeOptions) => {
    const config = buildProbeConfig(flags, process.env, flagName);
    if (config.dryRun) {
      const result = await runProbe(config);
      process.stdout.write(`${dryRunLines(config, result).join('\n')}\n`);
      return;
    }
    const stop = trapStopSignals((sig) => {
      process.stderr.write(`\n${sig}: stopping after the requests in flight; the table so far follows…\n`);
    });
    const target = config.run.target;
    const why = config.consent === 'yes' ? '--yes' : 'a loopback test endpoint';
    process.stderr.write(
      `probe: sending up to ${config.rows} real rows to ${target?.method} ${redactUrl(target?.url ?? '')} (${why}); ` +
        'Ctrl-C stops it with the table so far\n',
    );
    let result: ProbeResult;
    try {
      result = await runProbe(config, {
        signal: stop.signal,
        hardSignal: stop.hardSignal,
        onStep: (s) => process.stderr.write(`${stepLine(s)}\n`),
      });
    } finally {
      stop.dispose();
    }
    const command = result.recommended ? runCommandLine(process.argv.slice(2), result.recommended) : undefined;
    process.stdout.write(`${[...stepTable(result.steps), ...verdictLines(result, command)].join('\n')}\n`);
    // Rows probe could not deliver are not failures of a job: the run sends every row anyway.
    process.exitCode = exitCodeFor({ signal: stop.received() });
  });
}

function dryRunLines(config: ProbeConfig, result: ProbeResult): string[] {
  const t = config.run.target;
  const body = result.sampleBody;
  return [
    'dry run: nothing was sent.',
    `probe would send up to ${config.rows} real rows of ${result.source} to ${t?.method} ${redactUrl(t?.url ?? '')},`,
    `  batch size ${config.batchSizes.join(', ')}, concurrency ${config.concurrencies.join(', ')},` +
      ` sticky ${config.stickyModes.join(' and ')}; each step at most ${config.stepMs / 1000} s, all at most ${config.maxTimeMs / 1000} s`,
    body === undefined
      ? '  the source has no rows'
      : `  first request body: ${body.slice(0, 400)}${body.length > 400 ? '…' : ''}`,
  ];
}

/**
 * The `run` command line to use: the probe's own arguments (source, target, headers, transform)
 * with probe's flags replaced by the setting it found; header secrets and URL passwords masked.
 */
export function runCommandLine(
  args: readonly string[],
  use: { batchSize: number; concurrency: number; sticky: string },
): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (i === 0 && a === 'probe') {
      kept.push('run');
      continue;
    }
    const name = a.startsWith('--') ? (a.split('=')[0] as string) : a;
    if (PROBE_SWITCHES.includes(name)) continue;
    if (PROBE_ONLY.includes(name)) {
      if (!a.includes('=')) i++; // its value is the next argument
      continue;
    }
    kept.push(a);
  }
  const tuned = [
    '--batch-size',
    String(use.batchSize),
    '--concurrency',
    String(use.concurrency),
    '--sticky',
    use.sticky,
  ];
  return ['bulk-import', ...maskArgv([...kept, ...tuned])].map(shellQuote).join(' ');
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
