import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envelopeAttributes, envelopeBody } from '../../src/queue/envelope.js';
import { median } from '../report.js';

/**
 * The Lambda forwarder's bundle as Lambda runs it (issue 12): built by deploy/build-lambda.mjs,
 * imported in a fresh Node process (no node_modules next to it, as in the zip), handed SQS-shaped
 * events whose messages are what `run --queue` writes (whole API batches of ~520-byte rows),
 * forwarding to a local sink that answers 200 at once. Per process:
 *   - module load: `import('./forwarder.mjs')`;
 *   - first event: the handler's first call (reads its configuration, builds the client, opens
 *     connections, sends the event's requests): module load + this is the cold start Lambda adds;
 *   - per message: CPU (user + system) of the next events, warm, per message.
 * `node dist/bench/queue/lambda-cold.js [--runs N]`, or run by the queue bench.
 */

export interface LambdaColdResult {
  readonly bundleBytes: number;
  readonly zipBytes: number;
  readonly loadMs: number[];
  readonly firstEventMs: number[];
  readonly cpuUsPerMessage: number[];
  readonly cpuUsPerRequest: number[];
  readonly problems: string[];
}

const ROWS_PER_MESSAGE = 400; // 4 API batches of 100: what 64 KiB holds of the bench's rows
const BATCH_SIZE = 100;
const MESSAGES_PER_EVENT = 10; // the event source mapping's default batch size
const WARM_EVENTS = 30;

const INVOKE = `
const t0 = performance.now();
const { handler } = await import('./forwarder.mjs');
const loaded = performance.now();
const { readFileSync } = await import('node:fs');
const event = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const context = { getRemainingTimeInMillis: () => 30000 };
const check = (r) => { if (r.batchItemFailures.length) throw new Error('failures: ' + JSON.stringify(r)); };
check(await handler(event, context));
const first = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < ${WARM_EVENTS}; i++) check(await handler(event, context));
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ loadMs: loaded - t0, firstEventMs: first - loaded, warmCpuUs: cpu.user + cpu.system }) + '\\n');
process.exit(0);
`;

function row(id: number): string {
  const head = `{"id":${id},"title":"listing ${id}","price":"1234.50","created_at":"2024-01-01T00:00:00+00:00","text":"`;
  return `${head}${'x'.repeat(520 - head.length - 2)}"}`;
}

function sqsEvent(): unknown {
  const job = 'bench-job';
  const Records = Array.from({ length: MESSAGES_PER_EVENT }, (_, m) => {
    const rows = Array.from({ length: ROWS_PER_MESSAGE }, (_, i) => row(m * ROWS_PER_MESSAGE + i + 1));
    const attributes = envelopeAttributes({ job, rows: rows.length, range: [['1'], [String(rows.length)]] });
    return {
      messageId: `m${m}`,
      receiptHandle: `rh${m}`,
      body: envelopeBody(job, rows),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()) },
      messageAttributes: Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [
          k,
          { stringValue: v.StringValue, stringListValues: [], binaryListValues: [], dataType: v.DataType },
        ]),
      ),
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
      awsRegion: 'us-east-1',
    };
  });
  return { Records };
}

/** A sink that takes every POST at once and counts the requests. */
async function startSink(): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/items`, requests: () => requests };
}

export async function measureLambdaCold(runs: number, log: (line: string) => void): Promise<LambdaColdResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bulk-import-lambda-'));
  const sink = await startSink();
  const problems: string[] = [];
  const out = { loadMs: [] as number[], firstEventMs: [] as number[], cpuUsPerMessage: [] as number[] };
  try {
    const builder = (await import(fileURLToPath(new URL('../../../deploy/build-lambda.mjs', import.meta.url)))) as {
      buildLambda: (o: { outDir: string }) => Promise<{ bundle: string; zip: string }>;
    };
    const { bundle, zip } = await builder.buildLambda({ outDir: dir });
    writeFileSync(join(dir, 'invoke.mjs'), INVOKE);
    writeFileSync(join(dir, 'event.json'), JSON.stringify(sqsEvent()));
    const perProcess = (1 + WARM_EVENTS) * MESSAGES_PER_EVENT * (ROWS_PER_MESSAGE / BATCH_SIZE);
    for (let i = 0; i < runs; i++) {
      const before = sink.requests();
      const child = spawn(process.execPath, ['invoke.mjs', 'event.json'], {
        cwd: dir,
        // What the function's configuration holds; no AWS credentials are needed without secret headers.
        env: {
          PATH: process.env.PATH,
          TARGET_URL: sink.url,
          BATCH_SIZE: String(BATCH_SIZE),
          CONCURRENCY: '8',
          AWS_REGION: 'us-east-1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const [code] = (await once(child, 'close')) as [number | null];
      clearTimeout(timer);
      const sent = sink.requests() - before;
      const result = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !result.startsWith('{')) {
        problems.push(`run ${i + 1}: exit ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`);
        continue;
      }
      if (sent !== perProcess) problems.push(`run ${i + 1}: the sink counted ${sent} requests, expected ${perProcess}`);
      const r = JSON.parse(result) as { loadMs: number; firstEventMs: number; warmCpuUs: number };
      out.loadMs.push(r.loadMs);
      out.firstEventMs.push(r.firstEventMs);
      out.cpuUsPerMessage.push(r.warmCpuUs / (WARM_EVENTS * MESSAGES_PER_EVENT));
      log(
        `lambda run ${i + 1}/${runs}: load ${r.loadMs.toFixed(1)} ms, first event ${r.firstEventMs.toFixed(1)} ms, ` +
          `${(r.warmCpuUs / (WARM_EVENTS * MESSAGES_PER_EVENT)).toFixed(0)} µs CPU per message`,
      );
    }
    return {
      bundleBytes: statSync(bundle).size,
      zipBytes: statSync(zip).size,
      ...out,
      cpuUsPerRequest: out.cpuUsPerMessage.map((us) => us / (ROWS_PER_MESSAGE / BATCH_SIZE)),
      problems,
    };
  } finally {
    sink.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's section: medians and the spread of each figure. */
export function lambdaColdMarkdown(r: LambdaColdResult): string {
  const spread = (xs: number[], d = 1) =>
    xs.length ? `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})` : '–';
  const cold = r.loadMs.map((l, i) => l + (r.firstEventMs[i] ?? NaN));
  return [
    `Lambda bundle: forwarder.mjs ${(r.bundleBytes / 1024).toFixed(0)} KiB, forwarder.zip ${(r.zipBytes / 1024).toFixed(0)} KiB. ` +
      `Each run a fresh \`node\` importing the bundle, then one SQS event of ${MESSAGES_PER_EVENT} messages × ${ROWS_PER_MESSAGE} rows (~520 bytes), ` +
      `BATCH_SIZE ${BATCH_SIZE}, CONCURRENCY 8, to a local sink answering 200; then ${WARM_EVENTS} more events, warm; medians (min–max) of ${r.loadMs.length} runs.`,
    '',
    '| module load ms | first event ms | cold start ms (load + first event) | CPU µs per message, warm | CPU µs per API request, warm |',
    '|--:|--:|--:|--:|--:|',
    `| ${spread(r.loadMs)} | ${spread(r.firstEventMs)} | ${spread(cold)} | ${spread(r.cpuUsPerMessage, 0)} | ${spread(r.cpuUsPerRequest, 0)} |`,
    ...(r.problems.length ? ['', 'Failed runs:', '', ...r.problems.map((p) => `- ${p}`)] : []),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 5;
  const r = await measureLambdaCold(runs, (l) => process.stderr.write(`${l}\n`));
  process.stdout.write(`${lambdaColdMarkdown(r)}\n`);
  if (r.problems.length) process.exitCode = 1;
}
