import { Option, type Command } from 'commander';
import { IMPORT_DEFAULTS as DEFAULTS } from '../config/defaults.js';

/** The commander flags and nothing else; config.ts hands them to the core, which checks them (src/config/). */

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--from <source>', 'postgres:// URL, an .ndjson file, or - for stdin (default: $DATABASE_URL)')
    .option('--table <name>', 'table to read, optionally schema-qualified ("public.Weird Name" works)')
    .option('--query <sql>', 'a SELECT to read instead of a table; it is paged by --key')
    .option('--key <cols>', `key column(s) for keyset paging, comma-separated (default: ${DEFAULTS.key})`)
    .option('--where <sql>', 'only rows matching this SQL condition')
    .option('--limit <n>', 'stop after this many rows')
    .option('--max-line-bytes <n>', `NDJSON: a longer line is a failed row (default: ${DEFAULTS.maxLineBytes}, 16 MiB)`)
    .option(
      '--statement-timeout <duration>',
      `bound on each SQL statement, e.g. one page read (default: ${DEFAULTS.statementTimeout})`,
    )
    .addOption(new Option('--page-rows <n>', 'rows fetched per query (rounded to whole batches)').hideHelp());
}

/** The HTTP flags of `run`, `replay` and `forward`; `forward` has other defaults and words. */
export interface TargetFlagDefaults {
  readonly batchSize: number;
  readonly concurrency: number;
  readonly retries: number;
  readonly timeout: string;
  readonly concurrencyHelp: string;
  readonly retriesHelp: string;
}

export const RUN_TARGET_DEFAULTS: TargetFlagDefaults = {
  batchSize: DEFAULTS.batchSize,
  concurrency: DEFAULTS.concurrency,
  retries: DEFAULTS.retries,
  timeout: DEFAULTS.timeout,
  concurrencyHelp: 'requests in flight (one lane each), or auto to follow the API (run, direct mode)',
  retriesHelp: 'retries per request for network errors, timeouts, 408/429/5xx',
};

export function addTargetOptions(cmd: Command, d: TargetFlagDefaults = RUN_TARGET_DEFAULTS): Command {
  return cmd
    .option('--to <url>', 'the API endpoint each batch is sent to')
    .option('--method <method>', `HTTP method (default: ${DEFAULTS.method})`)
    .option('-H, --header <"Name: value">', 'request header, repeatable (secret values are never printed)', collect)
    .option('--batch-size <n>', 'rows per request: 1 sends a JSON object, more a JSON array', String(d.batchSize))
    .option('--concurrency <n>', d.concurrencyHelp, String(d.concurrency))
    .addOption(
      new Option(
        '--sticky <mode>',
        `cookie jar per lane, one shared jar, or no cookies (default: ${DEFAULTS.sticky})`,
      ).choices(['lane', 'shared', 'off']),
    )
    .option('--retries <n>', d.retriesHelp, String(d.retries))
    .option(
      '--timeout <duration>',
      `deadline per request attempt, answer included: 30s, 1500ms, 2m (default: ${d.timeout})`,
    )
    .option('--rate <n>', 'at most n requests per second in total')
    .option(
      '--target-header <name>',
      'a response header that names the target that answered (lanes per target; else the balancer cookie tells)',
    )
    .option(
      '--restick-after <duration>',
      `--sticky lane: a lane asks the balancer for a target afresh after this long; off for never (default: ${DEFAULTS.restickAfter})`,
    )
    .option(
      '--max-body-bytes <n>',
      'cut batches into requests of at most n bytes; a larger row fails (default: no limit)',
    );
}

export function addRunFlowOptions(cmd: Command): Command {
  return cmd
    .option(
      '--transform <module>',
      'a .js/.mjs module whose default export maps a row object to a payload (null skips it)',
    )
    .option(
      '--transform-timeout <duration>',
      `a row whose transform has not answered by then fails (default: ${DEFAULTS.transformTimeout})`,
    )
    .option('--dry-run', 'read and transform everything, send nothing; show the first body')
    .option('--no-progress', 'no progress bar')
    .option('--checkpoint <file>', 'checkpoint file (default: bulk-import-<job>.ckpt.json)')
    .option('--no-checkpoint', 'do not write a checkpoint')
    .option('--resume', 'carry on from the checkpoint')
    .option('--restart', 'start over even though the checkpoint holds an unfinished run')
    .option('--failed <file>', 'NDJSON file for rows that failed for good (default: bulk-import-<job>.failed.ndjson)')
    .option(
      '--max-failures <n|ratio>',
      'stop (exit 1) after more than n failed rows, or a ratio like 0.05 of rows processed',
    )
    .option('--summary-json <file>', 'also write the summary as JSON')
    .option(
      '--changed-column <col>',
      'a timestamp (or bigint version) column set on every write: the run records a horizon for --catch-up',
    )
    .option(
      '--catch-up',
      'send the rows changed since the horizon in --checkpoint (a complete copy); repeat until cutover',
    )
    .option(
      '--catch-up-overlap <duration|n>',
      `taken off each horizon, for application clocks (default: ${DEFAULTS.catchUpOverlap}; a bigint version column: ${DEFAULTS.catchUpOverlapVersions} versions)`,
    )
    .option(
      '--catch-up-wait <duration>',
      `a bigint version horizon waits this long for open writing transactions to end (default: ${DEFAULTS.catchUpWait})`,
    );
}
