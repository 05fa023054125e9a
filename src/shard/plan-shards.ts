import type { NameOf } from '../config/names.js';
import { optionName } from '../config/names.js';
import * as rule from '../config/rules.js';
import type { Count } from '../config/rules.js';
import { parseSource, type SourceOptions } from '../config/source-config.js';
import { usage } from '../errors.js';
import { cutPlan, type PlanRequest } from './cut-plan.js';
import type { ShardPlan } from './shard-plan.js';

export interface PlanOptions
  extends Pick<SourceOptions, 'from' | 'table' | 'query' | 'key' | 'where' | 'statementTimeout'> {
  /** How many key ranges (machines). */
  shards?: Count;
}

/** The options of `plan`, checked as `run` checks the same ones, so a plan and its runs name the job alike. */
export function planRequest(o: PlanOptions, env: NodeJS.ProcessEnv, n: NameOf): PlanRequest {
  const source = parseSource(o, env, n);
  if (source.kind !== 'postgres')
    throw usage(`${n('from')} must be a postgres:// URL: only a table or query can be cut`);
  if (o.shards === undefined) throw usage(`${n('shards')} is required`);
  const { url, table, query, key, where, statementTimeoutMs } = source;
  return {
    url,
    ...(table ? { table } : {}),
    ...(query ? { query } : {}),
    key,
    ...(where ? { where } : {}),
    shards: rule.wholeNumber(n('shards'), o.shards, 1, 10_000),
    statementTimeoutMs,
  };
}

/**
 * The library's `plan`: cuts a table into `shards` key ranges of about equal row count. Write
 * the result as JSON (`JSON.stringify(plan)`) and give each run `shard: 'k/n', plan: path`.
 */
export function planShards(
  options: PlanOptions,
  opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<ShardPlan> {
  return cutPlan(planRequest(options, opts.env ?? process.env, optionName), opts.signal);
}
