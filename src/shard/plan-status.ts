import { access } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { readCheckpoint, type Checkpoint } from '../checkpoint/checkpoint-file.js';
import { BulkImportError } from '../errors.js';
import { rangeOf, shardCheckpointPath, shardLabel, type ShardPlan } from './shard-plan.js';

export interface ShardStatus {
  readonly index: number;
  readonly checkpointPath: string;
  /** Absent: no checkpoint by the shard's default name beside the plan (not started, or elsewhere). */
  readonly checkpoint?: Checkpoint;
  /** A checkpoint that exists but cannot be read: what is wrong with it. */
  readonly problem?: string;
}

/** Each shard's checkpoint, found beside the plan by its default name. */
export async function shardStatuses(plan: ShardPlan, planPath: string): Promise<ShardStatus[]> {
  const out: ShardStatus[] = [];
  for (let index = 1; index <= plan.shards; index++) {
    // The default path is relative to the plan as the run named it; status may run from elsewhere.
    const name = basename(shardCheckpointPath(planPath, index, plan.shards));
    const checkpointPath = join(dirname(planPath), name);
    if (!(await exists(checkpointPath))) {
      out.push({ index, checkpointPath });
      continue;
    }
    try {
      out.push({ index, checkpointPath, checkpoint: await readCheckpoint(checkpointPath) });
    } catch (err) {
      out.push({ index, checkpointPath, problem: err instanceof BulkImportError ? err.message : String(err) });
    }
  }
  return out;
}

/** One table of all shards' progress and the sum. */
export function describePlanStatus(plan: ShardPlan, planPath: string, shards: ShardStatus[]): string {
  const what = plan.table ? `table ${plan.table}` : `query ${(plan.query ?? '').slice(0, 60)}`;
  const head = `plan ${planPath}: ${plan.source} ${what} by (${plan.key.join(', ')}), ${plan.shards} shards, ${plan.rows} rows when cut`;
  const header = ['shard', 'state', 'read', 'delivered', 'failed', 'skipped', 'range'];
  const rows: string[][] = [];
  const sum = { read: 0, delivered: 0, failed: 0, skipped: 0 };
  let complete = 0;
  for (const s of shards) {
    const r = rangeOf(plan, s.index);
    const range = `${r.after ? `(${r.after.join(', ')})` : 'start'} … ${r.upTo ? `(${r.upTo.join(', ')})` : 'end'}`;
    const c = s.checkpoint;
    if (!c) {
      rows.push([
        `${s.index}/${plan.shards}`,
        s.problem ? `unreadable: ${s.problem}` : 'not started',
        '',
        '',
        '',
        '',
        range,
      ]);
      continue;
    }
    if (c.job.shard !== shardLabel(plan, s.index)) {
      // Left from a plan cut before this one (or a run without --shard): its counts are not this plan's.
      rows.push([`${s.index}/${plan.shards}`, 'checkpoint of another plan', '', '', '', '', range]);
      continue;
    }
    if (c.complete) complete++;
    for (const k of ['read', 'delivered', 'failed', 'skipped'] as const) sum[k] += c.rows[k];
    const state = c.complete ? 'complete' : c.stoppedBy ? `stopped (${c.stoppedBy})` : 'running or stopped';
    const counts = [c.rows.read, c.rows.delivered, c.rows.failed, c.rows.skipped].map(String);
    rows.push([`${s.index}/${plan.shards}`, state, ...counts, range]);
  }
  const total = [`all`, `${complete}/${plan.shards} complete`, ...Object.values(sum).map(String), ''];
  return [head, ...table([header, ...rows, total])].join('\n');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const numeric = new Set([2, 3, 4, 5]);
  return rows.map((r) =>
    r
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
