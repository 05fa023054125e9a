import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';

/** Processes (other than exited ones) whose environment carries the marker: the demo's children. */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const env = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '');
    if (env.includes(marker)) found.push(Number(pid));
  }
  return found;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const ports = (text: string) => [...text.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));

describe('bulk-import demo', () => {
  it('imports every row through sticky lanes, contrasts --sticky off, and leaves no process or port behind', async () => {
    const marker = `BULK_IMPORT_TEST_${randomUUID()}`;
    const r = await runCli(['demo', '--rows', '3000'], { env: { [marker]: '1' }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/embedded PostgreSQL \(pglite\) at postgres:\/\/.*seeded table listings/);
    expect(r.stdout).toMatch(/Done: 3000 rows read, 3000 sent, 0 failed, 0 skipped/);
    expect(r.stdout).toMatch(/every one of the 10 lanes stuck to one target \(lanes per target: b1 \d, b2 \d, b3 \d\)/);
    expect(r.stdout).toMatch(/arrived: 3,000 distinct listing ids at the API/);
    expect(r.stdout).toMatch(/--sticky off: [\d,]+ rows\/s/);
    expect(r.stdout).toMatch(/0 of 30 requests carried the balancer cookie; the API built 30 sessions/);
    expect(r.stdout).toMatch(/all processes stopped/);
    expect(await processesWith(marker)).toEqual([]);
    const used = ports(r.stdout);
    expect(used.length).toBeGreaterThanOrEqual(2);
    for (const p of used) expect(await portOpen(p), `port ${p}`).toBe(false);
  });

  it('--queue also goes through SQS (emulator) and forward, every id arriving and the queue left empty', async () => {
    const marker = `BULK_IMPORT_TEST_${randomUUID()}`;
    const r = await runCli(['demo', '--rows', '2000', '--queue'], { env: { [marker]: '1' }, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2000 rows read, 2000 enqueued, 0 failed/);
    expect(r.stdout).toMatch(/queue: \d+ messages in \d+ SendMessageBatch calls/);
    expect(r.stdout).toMatch(
      /forward: \d+ messages \(\d+ deleted, 0 left for redelivery\), 2000 rows delivered, 0 rejected/,
    );
    expect(r.stdout).toMatch(/arrived: 2,000 distinct listing ids; messages left in the queue: 0/);
    expect(await processesWith(marker)).toEqual([]);
    for (const p of ports(r.stdout)) expect(await portOpen(p), `port ${p}`).toBe(false);
  });

  it('--serve keeps everything up, prints commands that work, and Ctrl-C stops it all', async () => {
    const marker = `BULK_IMPORT_TEST_${randomUUID()}`;
    const demo = startCli(['demo', '--serve', '--rows', '500'], { env: { [marker]: '1' } });
    const end = Date.now() + 60_000;
    while (!demo.output().stdout.includes('Ctrl-C stops it all') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
    const printed = demo.output().stdout;
    const line = printed.split('\n').find((l) => l.includes('--checkpoint demo.ckpt.json')) as string;
    const args = line
      .trim()
      .replace(/^npx bulk-import /, '')
      .split(' ')
      .filter((a) => a !== '--checkpoint' && a !== 'demo.ckpt.json');
    const run = await runCli([...args, '--no-checkpoint', '--no-progress']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/500 rows read, 500 sent/);
    demo.child.kill('SIGINT');
    const r = await demo.done();
    expect(r.code).toBe(0);
    expect(await processesWith(marker)).toEqual([]);
    for (const p of ports(printed)) expect(await portOpen(p), `port ${p}`).toBe(false);
  });
});
