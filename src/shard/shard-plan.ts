import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BulkImportError, errorCode, errorMessage, usage } from '../errors.js';
import type { KeyTuple } from '../types.js';

/**
 * A plan file: the key space of one table (or query) cut into n ranges of about equal row
 * count. Every machine reads the same file, so every shard's boundaries are the same
 * everywhere. Boundaries are key tuples as PostgreSQL's own text, like checkpoint watermarks.
 */
export interface ShardPlan {
  readonly version: 1;
  readonly kind: 'bulk-import shard plan';
  /** The source URL with its secrets masked: what a run's --from must match. */
  readonly source: string;
  readonly table?: string;
  readonly query?: string;
  readonly key: readonly string[];
  readonly where?: string;
  readonly shards: number;
  /** n − 1 keys, ascending: shard k reads keys > boundaries[k − 2] and ≤ boundaries[k − 1]. */
  readonly boundaries: readonly KeyTuple[];
  /** Rows the source held when the plan was made (each shard has about rows / n). */
  readonly rows: number;
  readonly createdAt: string;
}

/** One shard's slice of the key space; an absent end is open. */
export interface ShardRange {
  readonly after?: KeyTuple;
  readonly upTo?: KeyTuple;
}

/** Which shard of which plan a run is: part of the job's identity (its id, checkpoint, idempotency keys). */
export interface ShardChoice {
  readonly index: number;
  readonly count: number;
  readonly plan: string;
}

/** `k/n` → {index k, count n}, 1 ≤ k ≤ n. */
export function parseShardSpec(name: string, raw: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index < 1 || count < 1 || index > count || count > 10_000) {
    throw usage(`${name} must be k/n with 1 ≤ k ≤ n ≤ 10000, e.g. 3/8 (got ${JSON.stringify(raw)})`);
  }
  return { index, count };
}

/** Where shard k's checkpoint goes unless --checkpoint says otherwise: beside the plan, named for the shard. */
export function shardCheckpointPath(planPath: string, index: number, count: number): string {
  return `${planPath.replace(/\.json$/i, '')}.shard-${index}-of-${count}.ckpt.json`;
}

export function rangeOf(plan: ShardPlan, index: number): ShardRange {
  const after = index > 1 ? plan.boundaries[index - 2] : undefined;
  const upTo = index < plan.shards ? plan.boundaries[index - 1] : undefined;
  return { ...(after ? { after } : {}), ...(upTo ? { upTo } : {}) };
}

/** What a shard's run puts in its job fingerprint: a re-cut plan makes every shard a new job. */
export function shardLabel(plan: ShardPlan, index: number): string {
  return `${index}/${plan.shards} of plan ${planIdOf(plan)}`;
}

/** A short digest of the boundaries: a shard's job changes when its plan is cut again. */
export function planIdOf(plan: ShardPlan): string {
  return createHash('sha256')
    .update(JSON.stringify([plan.source, plan.table ?? null, plan.query ?? null, plan.key, plan.where ?? null]))
    .update(JSON.stringify([plan.shards, plan.boundaries]))
    .digest('hex')
    .slice(0, 12);
}

export async function readPlan(path: string): Promise<ShardPlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = errorCode(err) === 'ENOENT' ? 'no such file' : errorMessage(err);
    throw usage(`cannot read plan ${path}: ${why}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usage(`plan ${path} is not JSON (make it with \`bulk-import plan … --out ${path}\`)`);
  }
  const problem = planProblem(value);
  if (problem) throw usage(`plan ${path} is not a valid shard plan: ${problem}`);
  return value as ShardPlan;
}

/** True when `value` looks like a plan file rather than a checkpoint (status reads both). */
export function looksLikePlan(value: unknown): boolean {
  return isObject(value) && value.kind === 'bulk-import shard plan';
}

export function planProblem(v: unknown): string | undefined {
  if (!isObject(v) || v.kind !== 'bulk-import shard plan') return 'not a plan file';
  if (v.version !== 1) return `unknown version ${JSON.stringify(v.version ?? null)} (this bulk-import reads version 1)`;
  if (typeof v.source !== 'string') return '"source" is missing';
  if ((typeof v.table === 'string') === (typeof v.query === 'string')) return 'give exactly one of "table" and "query"';
  if (v.where !== undefined && typeof v.where !== 'string') return '"where" must be text';
  const key = v.key;
  if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === 'string' && k !== '')) {
    return '"key" must be a non-empty list of column names';
  }
  const n = v.shards;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) return '"shards" must be 1 to 10000';
  const b = v.boundaries;
  if (!Array.isArray(b) || b.length !== n - 1) return `"boundaries" must hold ${n - 1} keys`;
  for (const [i, t] of b.entries()) {
    if (!Array.isArray(t) || t.length !== key.length || !t.every((x) => typeof x === 'string')) {
      return `"boundaries[${i}]" must be ${key.length} key value(s) as text`;
    }
  }
  if (typeof v.rows !== 'number' || !Number.isInteger(v.rows) || v.rows < 0) return '"rows" must be a whole number';
  return undefined;
}

/** The plan must be for this very job's rows, or the shards would not cover the table exactly once. */
export function assertPlanFits(
  plan: ShardPlan,
  path: string,
  job: { source: string; table?: string; query?: string; key: readonly string[]; where?: string },
  count: number,
): void {
  const pairs: [string, unknown, unknown][] = [
    ['source', plan.source, job.source],
    ['table', plan.table, job.table],
    ['query', plan.query, job.query],
    ['key', plan.key, job.key],
    ['where', plan.where, job.where],
  ];
  for (const [what, was, now] of pairs) {
    const a = JSON.stringify(was ?? null);
    const b = JSON.stringify(now ?? null);
    if (a !== b) throw new BulkImportError('CONFIG', `plan ${path} is for another job: ${what} was ${a}, now ${b}`);
  }
  if (plan.shards !== count) {
    throw new BulkImportError(
      'CONFIG',
      `plan ${path} cuts ${plan.shards} shards, not ${count}: give --shard k/${plan.shards}`,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
