import type { Command } from 'commander';
import { readCheckpoint, type Checkpoint } from '../checkpoint/checkpoint-file.js';

export function registerStatus(program: Command): void {
  program
    .command('status <checkpoint>')
    .description('say where a run stands, from its checkpoint file')
    .option('--json', 'print the checkpoint as JSON')
    .addHelpText('after', '\nExample:\n  $ bulk-import status listings.ckpt.json')
    .action(async (path: string, flags: { json?: boolean }) => {
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
  ].join('\n');
}

function aheadNote(c: Checkpoint): string {
  const n = c.ahead?.length ?? 0;
  return n === 0 ? '' : `, and ${n} batch${n === 1 ? '' : 'es'} beyond it (not sent again on resume)`;
}
