import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { readCheckpoint, type Checkpoint } from '../checkpoint/checkpoint-file.js';
import { describePlanStatus, shardStatuses } from '../shard/plan-status.js';
import { looksLikePlan, readPlan } from '../shard/shard-plan.js';
import { fromPoint, horizonPoint, lagOf, shortAfter } from './horizon-text.js';

export function registerStatus(program: Command): void {
  program
    .command('status <checkpoint-or-plan>')
    .description('say where a run stands, from its checkpoint file (or every shard of a plan file)')
    .option('--json', 'print the checkpoint as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bulk-import status listings.ckpt.json\n  $ bulk-import status plan.json     # every shard of a plan, and the sum',
    )
    .action(async (path: string, flags: { json?: boolean }) => {
      if (await isPlanFile(path)) {
        const plan = await readPlan(path);
        const shards = await shardStatuses(plan, path);
        const json = { plan, shards: shards.map((s) => ({ ...s, checkpoint: s.checkpoint ?? null })) };
        process.stdout.write(
          flags.json ? `${JSON.stringify(json, null, 2)}\n` : `${describePlanStatus(plan, path, shards)}\n`,
        );
        return;
      }
      const ckpt = await readCheckpoint(path);
      process.stdout.write(flags.json ? `${JSON.stringify(ckpt, null, 2)}\n` : `${describeCheckpoint(ckpt)}\n`);
    });
}

export function describeCheckpoint(c: Checkpoint): string {
  const j = c.job;
  const what = j.table ? `table ${j.table}` : j.query ? `query ${j.query.slice(0, 80)}` : '';
  const done = c.rows.delivered + c.rows.failed + c.rows.skipped;
  const state = c.complete
    ? 'complete'
    : c.stoppedBy
      ? `stopped (${c.stoppedBy}), resumable with --resume`
      : 'in progress or stopped abruptly, resumable with --resume';
  return [
    `job ${c.jobId}: ${state}`,
    `  from     ${j.source}${what ? ` ${what}` : ''} by (${j.key.join(', ')})${j.where ? ` where ${j.where}` : ''}`,
    `  to       ${j.target}, batches of ${j.batchSize}`,
    `  position ${c.watermark ? `after key (${c.watermark.join(', ')})` : 'at the start'}${aheadNote(c)}`,
    `  rows     ${done} done: ${c.rows.delivered} delivered, ${c.rows.failed} failed, ${c.rows.skipped} skipped`,
    ...(c.failedFile && c.rows.failed > 0 ? [`  failed   ${c.failedFile}`] : []),
    `  started  ${c.startedAt} (${c.runs} run${c.runs === 1 ? '' : 's'}); last update ${c.updatedAt}`,
    ...catchUpLines(c, Date.now()),
  ].join('\n');
}

/** The copy's horizon and each catch-up: its rows and its lag (now − its horizon). */
function catchUpLines(c: Checkpoint, now: number): string[] {
  if (!c.changed) return [];
  const h = c.changed;
  const lines = [`  copy     horizon ${horizonPoint(h)} on ${h.column} (lag ${lagOf(h, now)})`];
  for (const u of c.catchUps ?? []) {
    const done = u.rows.delivered + u.rows.failed + u.rows.skipped;
    const from = fromPoint(u.from, u.horizon);
    const state = u.complete
      ? `horizon ${shortAfter(from, horizonPoint(u.horizon))} (lag ${lagOf(u.horizon, now)})`
      : 'unfinished: run --catch-up again';
    lines.push(
      `  catch-up ${u.n}: ${done} rows changed since ${from} (${u.rows.delivered} delivered, ${u.rows.failed} failed,` +
        ` ${u.overlapRows} inside the overlap); ${state}`,
    );
  }
  return lines;
}

function aheadNote(c: Checkpoint): string {
  const n = c.ahead?.length ?? 0;
  return n === 0 ? '' : `, and ${n} batch${n === 1 ? '' : 'es'} beyond it (not sent again on resume)`;
}

/** A plan file names its kind; anything else (a checkpoint, a damaged file) goes to readCheckpoint's checks. */
async function isPlanFile(path: string): Promise<boolean> {
  try {
    return looksLikePlan(JSON.parse(await readFile(path, 'utf8')));
  } catch {
    return false;
  }
}
