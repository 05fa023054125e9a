import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { parseForwarderEnv } from '../../src/lambda/config.js';
import { Forwarder } from '../../src/lambda/forwarder.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/lambda/sqs-event.js';
import { startStickyBalancer, type StickyBalancer } from '../../src/testkit/sticky-balancer.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';

const TOKEN = 'Bearer sekret-token-123';
let lb: StickyBalancer;
let handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;
const logged: string[] = [];
const ENV_KEYS = ['TARGET_URL', 'HEADERS', 'BATCH_SIZE', 'CONCURRENCY', 'RETRIES', 'TIMEOUT_MS', 'SAFETY_MS'];

beforeAll(async () => {
  lb = await startStickyBalancer({ backends: 3 });
  // The function's configuration, as the template sets it; read once, on the first invocation.
  Object.assign(process.env, {
    TARGET_URL: `${lb.url}/items`,
    HEADERS: JSON.stringify({ Authorization: TOKEN }),
    BATCH_SIZE: '5',
    CONCURRENCY: '1',
    RETRIES: '1',
    TIMEOUT_MS: '2000',
    SAFETY_MS: '100',
  });
  ({ handler } = await import('../../src/lambda/handler.js'));
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logged.push(line));
});

afterEach(() => {
  for (const b of lb.backends) {
    b.setFault(undefined);
    b.setLatency(0);
    b.clear();
  }
  logged.length = 0;
});

afterAll(async () => {
  vi.restoreAllMocks();
  for (const k of ENV_KEYS) delete process.env[k];
  await lb.close();
});

const context = (ms = 30_000): LambdaContext => ({ getRemainingTimeInMillis: () => ms });
const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => makeRow(from + i, 80));
const requests = () => lb.backends.flatMap((b) => b.requests).sort((a, b) => a.at - b.at);

describe('Lambda handler', () => {
  test('a second invocation in the same container sends the cookie the balancer set on the first', async () => {
    expect(await handler({ Records: [sqsRecord(rows(1, 5))] }, context())).toEqual({ batchItemFailures: [] });
    expect(await handler({ Records: [sqsRecord(rows(6, 5))] }, context())).toEqual({ batchItemFailures: [] });
    const [first, second] = requests();
    expect(first?.headers.cookie).toBeUndefined();
    expect(second?.headers.cookie).toMatch(/AWSALB=/);
    expect(second?.backend).toBe(first?.backend);
  });

  test('partial failure returns exactly the messages whose rows were not all delivered', async () => {
    // Rows 207 and 409 keep failing with 503: their messages must come back, no others.
    for (const b of lb.backends) b.setFault(({ ids }) => (ids.includes('207') || ids.includes('409') ? { status: 503 } : undefined));
    const records = [100, 200, 300, 400, 500].map((base, i) => sqsRecord(rows(base, 12), { messageId: `msg-${i}` }));
    const answer = await handler({ Records: records }, context());
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-3' }]);
    const delivered = new Set(lb.backends.flatMap((b) => b.acceptedIds()));
    for (const id of [100, 111, 300, 311, 500, 511]) expect(delivered.has(String(id))).toBe(true);
  });

  test('rows the API rejects (4xx) are logged as JSON, without secrets, and do not fail the message', async () => {
    for (const b of lb.backends) b.setFault(({ ids }) => (ids.includes('3') ? { status: 422, body: `refused for ${TOKEN}` } : undefined));
    const answer = await handler({ Records: [sqsRecord(rows(1, 10), { messageId: 'mixed' })] }, context());
    expect(answer.batchItemFailures).toEqual([]);
    const lines = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(5); // the API batch of rows 1–5 was refused as a whole
    expect(lines[0]).toMatchObject({ level: 'warn', event: 'row_rejected', messageId: 'mixed', status: 422 });
    expect(lines.map((l) => (JSON.parse(l.row as string) as { id: number }).id)).toEqual([1, 2, 3, 4, 5]);
    expect(logged.join('\n')).not.toContain('sekret-token-123');
    expect(new Set(lb.backends.flatMap((b) => b.acceptedIds()))).toEqual(new Set(['6', '7', '8', '9', '10']));
  });

  test('a malformed message is failed (for the DLQ) without holding up the others', async () => {
    const bad = sqsRecord([], { messageId: 'bad', body: '{"v":2,"rows":[]}' });
    const answer = await handler({ Records: [bad, sqsRecord(rows(1, 5), { messageId: 'good' })] }, context());
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
    expect(JSON.parse(logged[0] as string)).toMatchObject({ event: 'message_malformed', messageId: 'bad' });
  });

  test('near the deadline no new request starts and the unfinished messages are reported', async () => {
    for (const b of lb.backends) b.setLatency(300);
    const records = [sqsRecord(rows(1, 5), { messageId: 'quick' }), sqsRecord(rows(10, 25), { messageId: 'slow-1' }), sqsRecord(rows(40, 25), { messageId: 'slow-2' })];
    const started = Date.now();
    const answer = await handler({ Records: records }, context(1000));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'slow-1' }, { itemIdentifier: 'slow-2' }]);
  });
});

describe('forwarder bodies', () => {
  test('batch size 1 sends each row as a JSON object, byte for byte', async () => {
    const f = new Forwarder(parseForwarderEnv({ TARGET_URL: `${lb.url}/one`, BATCH_SIZE: '1' }), () => undefined);
    const big = '{"id":9007199254740993,"price":123456789012345678901234567890.5}';
    try {
      await f.handle({ Records: [sqsRecord([big, makeRow(2, 50)])] }, context());
    } finally {
      await f.close();
    }
    expect(requests().map((r) => r.body).sort()).toEqual([big, makeRow(2, 50)].sort());
  });
});
