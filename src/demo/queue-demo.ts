import { join } from 'node:path';
import { BulkImportError } from '../errors.js';
import { startLocalSqs } from './sandbox/local-sqs.js';
import { startStickyBalancer } from './sandbox/sticky-balancer.js';
import { runCliChild } from './child-processes.js';
import type { DemoContext } from './run-demo.js';
import { describeSpread, indent, laneSpread } from './lane-report.js';

/**
 * `demo --queue`: the same table through queue mode. Rows are enqueued into the SQS emulator
 * (fauxqs, in this process), then `bulk-import forward` delivers them through its pollers, each
 * a "Lambda container" with its own sticky client, into a fresh copy of the API.
 */
export async function queueDemo(ctx: DemoContext): Promise<void> {
  const { opts } = ctx;
  const out = opts.out;
  const sqs = await startLocalSqs();
  ctx.onStop(() => sqs.close());
  const queue = await sqs.createQueueWithDlq('listings', 5);
  const api = await startStickyBalancer({
    backends: Array.from({ length: 3 }, () => ({ latencyMs: 5, sessionSetupMs: 25, record: 'ids' as const })),
  });
  ctx.onStop(() => api.close());
  const endpoint = ['--sqs-endpoint', sqs.endpoint];
  if (opts.serve) {
    out(
      `\nQueue mode: an SQS emulator at ${sqs.endpoint}, queue ${queue.url} (DLQ after 5 receives), API copy at ${api.url}/listings:`,
    );
    out(
      `  npx bulk-import run --from ${ctx.dbUrl} --table listings --queue ${queue.url} --sqs-endpoint ${sqs.endpoint} --checkpoint q.ckpt.json`,
    );
    out(`  npx bulk-import queue-status --queue ${queue.url} --sqs-endpoint ${sqs.endpoint}`);
    out(
      `  npx bulk-import forward --queue ${queue.url} --sqs-endpoint ${sqs.endpoint} --to ${api.url}/listings --pollers 3 --until-empty`,
    );
    return;
  }
  out(`\n5. queue mode: enqueue into SQS (emulator at ${sqs.endpoint}), then forward with 3 pollers\n`);
  out(`  bulk-import run --from ${ctx.dbUrl} --table listings --queue ${queue.url} --sqs-endpoint ${sqs.endpoint}`);
  const enqueue = await runCliChild(ctx.children, [
    'run',
    '--from',
    ctx.dbUrl,
    '--table',
    'listings',
    '--queue',
    queue.url,
    ...endpoint,
    '--checkpoint',
    join(ctx.dir, 'queue.ckpt.json'),
    '--failed',
    join(ctx.dir, 'queue.failed.ndjson'),
  ]);
  out(indent(enqueue.stdout));
  if (enqueue.code !== 0) throw new BulkImportError('SOURCE_FAILED', `the enqueue step exited ${enqueue.code}`);
  out(
    `\n  bulk-import forward --queue ${queue.url} --sqs-endpoint ${sqs.endpoint} --to ${api.url}/listings --pollers 3 --until-empty`,
  );
  const forward = await runCliChild(ctx.children, [
    'forward',
    '--queue',
    queue.url,
    ...endpoint,
    '--to',
    `${api.url}/listings`,
    '--pollers',
    '3',
    '--concurrency',
    '2',
    '--until-empty',
  ]);
  out(indent(forward.stdout));
  out(describeSpread(laneSpread(api)));
  const arrived = new Set(api.backends.flatMap((b) => b.acceptedIds())).size;
  const left = await sqs.depth(queue.url);
  out(
    `  arrived: ${arrived.toLocaleString('en')} distinct listing ids; messages left in the queue: ${left.visible + left.inFlight}`,
  );
  if (forward.code !== 0) throw new BulkImportError('SOURCE_FAILED', `forward exited ${forward.code}`);
}
