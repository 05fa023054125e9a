import type { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic-write.js';
import { IMPORT_DEFAULTS as DEFAULTS } from '../config/defaults.js';
import { flagName } from '../config/names.js';
import * as rule from '../config/rules.js';
import { cutPlan } from '../shard/cut-plan.js';
import { planRequest, type PlanOptions } from '../shard/plan-shards.js';
import { trapStopSignals } from './signals.js';

interface PlanFlags extends PlanOptions {
  out?: string;
}

const EXAMPLES = `
Examples:
  $ bulk-import plan --from "$DATABASE_URL" --table listings --shards 8 --out plan.json
  $ bulk-import run --from "$DATABASE_URL" --table listings --to … --shard 3/8 --plan plan.json   # machine 3
  $ bulk-import status plan.json                                                               # every shard`;

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('cut a table into key ranges of about equal row count, one per machine (`run --shard k/n --plan`)')
    .option('--from <url>', 'postgres:// URL (default: $DATABASE_URL)')
    .option('--table <name>', 'table to cut, optionally schema-qualified')
    .option('--query <sql>', 'a SELECT to cut instead of a table')
    .option('--key <cols>', `key column(s), comma-separated, as the runs give them (default: ${DEFAULTS.key})`)
    .option('--where <sql>', 'only rows matching this SQL condition, as the runs give it')
    .option('--shards <n>', 'number of key ranges (machines)')
    .option('--statement-timeout <duration>', `bound on the quantile query (default: ${DEFAULTS.statementTimeout})`)
    .option('--out <file>', 'write the plan there (default: standard output)')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: PlanFlags) => {
      const request = planRequest(flags, process.env, flagName);
      const shards = request.shards;
      if (flags.out !== undefined) rule.filePath('--out', flags.out);
      const stop = trapStopSignals(() => undefined);
      try {
        const plan = await cutPlan(request, stop.signal);
        const text = `${JSON.stringify(plan, null, 2)}\n`;
        if (flags.out) await writeFileAtomic(flags.out, text);
        else process.stdout.write(text);
        const each = Math.round(plan.rows / shards);
        process.stderr.write(
          `plan: ${plan.rows} rows in ${shards} shards of about ${each}${flags.out ? ` → ${flags.out}` : ''}\n`,
        );
      } finally {
        stop.dispose();
      }
    });
}
