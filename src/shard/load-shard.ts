import type { RunConfig } from '../config/import-config.js';
import { redactUrl } from '../redact.js';
import { whereWithRange } from './range-condition.js';
import { assertPlanFits, rangeOf, readPlan, shardLabel, type ShardRange } from './shard-plan.js';

export interface LoadedShard {
  /** `k/n of plan <id>`: in the job's fingerprint, so its id, checkpoint and idempotency keys are its own. */
  readonly label: string;
  readonly range: ShardRange;
  /** The source's condition: the shard's range and the user's --where. */
  readonly where: string | undefined;
}

/** Reads the plan of a `--shard k/n --plan p` run and checks that it is this job's (exit 2, one line, if not). */
export async function loadShard(config: RunConfig): Promise<LoadedShard | undefined> {
  const s = config.source;
  if (!config.shard || s.kind !== 'postgres') return undefined;
  const { index, count, plan: path } = config.shard;
  const plan = await readPlan(path);
  assertPlanFits(
    plan,
    path,
    {
      source: redactUrl(s.url),
      ...(s.table ? { table: s.table } : {}),
      ...(s.query ? { query: s.query } : {}),
      key: s.key,
      ...(s.where ? { where: s.where } : {}),
    },
    count,
  );
  const range = rangeOf(plan, index);
  return { label: shardLabel(plan, index), range, where: whereWithRange(s.key, range, s.where) };
}
