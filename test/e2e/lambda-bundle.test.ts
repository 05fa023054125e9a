import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startStickyBalancer, type StickyBalancer } from '../../src/testkit/sticky-balancer.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';
import { readZip } from '../helpers/read-zip.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let lb: StickyBalancer;
let dir: string;

beforeAll(async () => {
  lb = await startStickyBalancer({ backends: 2 });
  dir = await mkdtemp(join(tmpdir(), 'forwarder-'));
});
afterAll(async () => {
  await lb.close();
  await rm(dir, { recursive: true, force: true });
});

function run(cmd: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, cmd, { cwd: opts.cwd, env: { PATH: process.env.PATH, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

// What Lambda does with the zip: unpack it, import forwarder.mjs in a fresh Node, call handler twice.
const INVOKE = `
const { handler } = await import('./forwarder.mjs');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const events = JSON.parse(input);
const context = { getRemainingTimeInMillis: () => 30000 };
for (const event of events) console.log(JSON.stringify(await handler(event, context)));
process.exit(0);
`;

test('the built zip holds one ES module whose handler forwards an SQS event', async () => {
  const build = await run(['deploy/build-lambda.mjs'], { cwd: root });
  expect(build.stderr).toBe('');
  expect(build.code).toBe(0);
  const files = readZip(await readFile(join(root, 'dist/lambda/forwarder.zip')));
  expect([...files.keys()]).toEqual(['forwarder.mjs']);
  await writeFile(join(dir, 'forwarder.mjs'), files.get('forwarder.mjs') as Buffer);
  await writeFile(join(dir, 'invoke.mjs'), INVOKE);

  const events = [1, 11].map((from) => ({ Records: [sqsRecord(Array.from({ length: 10 }, (_, i) => makeRow(from + i, 100)), { messageId: `m${from}` })] }));
  const res = await run(['invoke.mjs'], {
    cwd: dir,
    env: { TARGET_URL: `${lb.url}/items`, BATCH_SIZE: '10', CONCURRENCY: '1', AWS_REGION: 'us-east-1' },
    input: JSON.stringify(events),
  });
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  expect(res.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
  const seen = lb.backends.flatMap((b) => b.requests).sort((a, b) => a.at - b.at);
  expect(seen.flatMap((r) => r.ids).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  // The bundle keeps its client at module scope: the second invocation is already sticky.
  expect(seen[0]?.headers.cookie).toBeUndefined();
  expect(seen[1]?.headers.cookie).toMatch(/AWSALB=/);
});
