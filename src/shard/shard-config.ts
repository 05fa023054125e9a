import { usage } from '../errors.js';
import type { NameOf } from '../config/names.js';
import * as rule from '../config/rules.js';
import type { SourceConfig } from '../config/source-config.js';
import { parseShardSpec, shardCheckpointPath, type ShardChoice } from './shard-plan.js';

export interface ShardOptions {
  /** `k/n`: this run reads the k-th of the plan's n key ranges. */
  shard?: string;
  /** The plan file (`bulk-import plan`) every shard's run reads. */
  plan?: string;
}

/**
 * --shard and --plan go together and need a PostgreSQL source. Without --checkpoint, a shard's
 * checkpoint goes beside the plan under the shard's name, where `status plan.json` finds it.
 */
export function parseShard(
  o: ShardOptions & { checkpoint?: string | false | null },
  source: SourceConfig,
  n: NameOf,
): { shard?: ShardChoice; checkpoint?: string } {
  if (o.shard === undefined && o.plan === undefined) return {};
  if (o.shard === undefined || o.plan === undefined) throw usage(`${n('shard')} and ${n('plan')} go together`);
  if (source.kind !== 'postgres') throw usage(`${n('shard')} needs a PostgreSQL source in ${n('from')}`);
  const { index, count } = parseShardSpec(n('shard'), o.shard);
  const plan = rule.filePath(n('plan'), o.plan);
  const checkpoint = o.checkpoint === undefined ? shardCheckpointPath(plan, index, count) : undefined;
  return { shard: { index, count, plan }, ...(checkpoint ? { checkpoint } : {}) };
}
