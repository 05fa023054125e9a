import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { startStickyBalancer, type StickyBalancer } from '../helpers/sticky-balancer.js';
import { drainQueue, idsIn, makeRow, sqsRecord } from '../helpers/queue-fixtures.js';
import { readZip } from '../helpers/read-zip.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let lb: StickyBalancer;
let sqs: LocalSqs;
let dir: string;

beforeAll(async () => {
  [lb, sqs] = await Promise.all([startStickyBalancer({ backends: 2 }), startLocalSqs()]);
  dir = await mkdtemp(join(tmpdir(), 'forwarder-'));
});
afterAll(async () => {
  await Promise.all([lb.close(), sqs.close()]);
  await rm(dir, { recursive: true, force: true });
});

function run(
  cmd: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

  const events = [1, 11].map((from) => ({
    Records: [
      sqsRecord(
        Array.from({ length: 10 }, (_, i) => makeRow(from + i, 100)),
        { messageId: `m${from}` },
      ),
    ],
  }));
  const res = await run(['invoke.mjs'], {
    cwd: dir,
    env: { TARGET_URL: `${lb.url}/items`, BATCH_SIZE: '10', CONCURRENCY: '1', AWS_REGION: 'us-east-1' },
    input: JSON.stringify(events),
  });
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  expect(
    res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
  ).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
  const seen = lb.backends.flatMap((b) => b.requests).sort((a, b) => a.at - b.at);
  expect(
    seen
      .flatMap((r) => r.ids)
      .map(Number)
      .sort((a, b) => a - b),
  ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  // The bundle keeps its client at module scope: the second invocation is already sticky.
  expect(seen[0]?.headers.cookie).toBeUndefined();
  expect(seen[1]?.headers.cookie).toMatch(/AWSALB=/);
});

// The forwarder's own code and its few runtime dependencies (undici, tough-cookie, p-limit) make
// about 1.3 MiB of bundle and 290 KiB of zip; the demo's sandbox (pglite alone is megabytes), the
// tests' doubles or fauxqs (fastify, S3 and SNS clients) would blow well past these bounds.
const MAX_BUNDLE_BYTES = 1.6 * 2 ** 20;
const MAX_ZIP_BYTES = 384 * 2 ** 10;

test('the bundle stays small and holds none of the demo sandbox, the test doubles, pglite or fauxqs', async () => {
  // Built by the first test; esbuild names every module it inlines in a `// path` comment.
  const bundle = await readFile(join(root, 'dist/lambda/forwarder.mjs'), 'utf8');
  const zip = await readFile(join(root, 'dist/lambda/forwarder.zip'));
  expect(Buffer.byteLength(bundle)).toBeLessThan(MAX_BUNDLE_BYTES);
  expect(zip.length).toBeLessThan(MAX_ZIP_BYTES);
  const modules = [...bundle.matchAll(/^\/\/ ((?:src|node_modules)\/\S+)$/gm)].map((m) => m[1]);
  expect(modules).toContain('src/lambda/handler.ts'); // the check below sees what was inlined
  const foreign = /^src\/(demo|testkit)\/|^test\/|^node_modules\/(@electric-sql|fauxqs|fastify|@aws-sdk)\//;
  expect(modules.filter((m) => foreign.test(m))).toEqual([]);
  const names = [
    'startApiBackend',
    'startStickyBalancer',
    'startHttpSink',
    'startLocalSqs',
    'startEmbeddedPostgres',
    'seedListings',
    'PGlite',
    'pglite',
    'fauxqs',
  ];
  for (const name of names) {
    expect(bundle.includes(name), name).toBe(false);
  }
});

test('with REJECTS_QUEUE_URL the bundle loads the SQS client of the runtime and sets refused rows aside', async () => {
  // The zip carries no SDK (the test above builds it; this one reuses the bundle): the nodejs22.x
  // runtime provides @aws-sdk/*, here a node_modules beside the module stands in for it.
  const bundle = await readFile(join(root, 'dist/lambda/forwarder.mjs'), 'utf8');
  expect(bundle).not.toMatch(/class SQSClient\b/);
  const fn = join(dir, 'with-sdk');
  await mkdir(fn);
  await writeFile(join(fn, 'forwarder.mjs'), bundle);
  await writeFile(join(fn, 'invoke.mjs'), INVOKE);
  await symlink(join(root, 'node_modules'), join(fn, 'node_modules'), 'dir');
  const rejects = await sqs.createQueue('bundle-rejects');
  for (const b of lb.backends) {
    b.clear();
    b.setFault(({ ids }) => (ids.includes('4') ? { status: 422 } : undefined));
  }
  const event = {
    Records: [
      sqsRecord(
        Array.from({ length: 8 }, (_, i) => makeRow(i + 1, 100)),
        { messageId: 'r1' },
      ),
    ],
  };
  const res = await run(['invoke.mjs'], {
    cwd: fn,
    env: {
      TARGET_URL: `${lb.url}/items`,
      BATCH_SIZE: '8',
      REJECTS_QUEUE_URL: rejects.url,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_REGION: 'us-east-1',
    },
    input: JSON.stringify([event]),
  });
  for (const b of lb.backends) b.setFault(undefined);
  expect(res.code).toBe(0);
  const lines = res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.at(-1)).toEqual({ batchItemFailures: [] });
  expect(idsIn(await drainQueue(sqs.sqs, rejects.url))).toEqual([4]);
  expect(
    lb.backends
      .flatMap((b) => b.acceptedIds())
      .map(Number)
      .sort((a, b) => a - b),
  ).toEqual([1, 2, 3, 5, 6, 7, 8]);
});
