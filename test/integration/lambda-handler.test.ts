import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { parseForwarderEnv } from '../../src/lambda/config.js';
import { Forwarder } from '../../src/lambda/forwarder.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/queue/sqs-event.js';
import { parseEnvelope } from '../../src/queue/envelope.js';
import type { RejectedRow } from '../../src/queue/rejects.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { startStickyBalancer, type StickyBalancer } from '../helpers/sticky-balancer.js';
import { drainQueue, makeRow, sqsRecord } from '../helpers/queue-fixtures.js';

const TOKEN = 'Bearer sekret-token-123';
let lb: StickyBalancer;
let sqs: LocalSqs;
let rejectsQueue: string;
let handler: (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;
const logged: string[] = [];
const ENV_KEYS = [
  'TARGET_URL',
  'HEADERS',
  'BATCH_SIZE',
  'CONCURRENCY',
  'RETRIES',
  'TIMEOUT_MS',
  'SAFETY_MS',
  'REJECTS_QUEUE_URL',
  'AWS_ENDPOINT_URL_SQS',
];

beforeAll(async () => {
  [lb, sqs] = await Promise.all([startStickyBalancer({ backends: 3 }), startLocalSqs()]);
  rejectsQueue = (await sqs.createQueue('lambda-rejects')).url;
  // The function's configuration, as the template sets it; read once, on the first invocation.
  Object.assign(process.env, {
    TARGET_URL: `${lb.url}/items`,
    HEADERS: JSON.stringify({ Authorization: TOKEN }),
    BATCH_SIZE: '5',
    CONCURRENCY: '1',
    RETRIES: '1',
    TIMEOUT_MS: '2000',
    SAFETY_MS: '100',
    REJECTS_QUEUE_URL: rejectsQueue,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
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
  await Promise.all([lb.close(), sqs.close()]);
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
    for (const b of lb.backends)
      b.setFault(({ ids }) => (ids.includes('207') || ids.includes('409') ? { status: 503 } : undefined));
    const records = [100, 200, 300, 400, 500].map((base, i) => sqsRecord(rows(base, 12), { messageId: `msg-${i}` }));
    const answer = await handler({ Records: records }, context());
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-3' }]);
    const delivered = new Set(lb.backends.flatMap((b) => b.acceptedIds()));
    for (const id of [100, 111, 300, 311, 500, 511]) expect(delivered.has(String(id))).toBe(true);
  });

  test('a row the API refuses (422) is isolated by halving; only it goes to the rejects queue, and the message is done', async () => {
    for (const b of lb.backends)
      b.setFault(({ ids }) => (ids.includes('3') ? { status: 422, body: `refused for ${TOKEN}` } : undefined));
    const answer = await handler({ Records: [sqsRecord(rows(1, 10), { messageId: 'mixed' })] }, context());
    expect(answer.batchItemFailures).toEqual([]);
    expect(new Set(lb.backends.flatMap((b) => b.acceptedIds()))).toEqual(
      new Set(['1', '2', '4', '5', '6', '7', '8', '9', '10']),
    );
    const rejects = await drainQueue(sqs.sqs, rejectsQueue);
    expect(rejects).toHaveLength(1);
    const body = rejects[0]?.Body as string;
    const parsed = parseEnvelope(body, rejects[0]?.MessageAttributes?.rows?.StringValue);
    expect(parsed.ok && parsed.envelope.rows.map((r) => (JSON.parse(r) as { id: number }).id)).toEqual([3]);
    expect(JSON.parse(body)).toMatchObject({
      v: 1,
      job: 'test-job',
      failures: [{ status: 422, attempts: 1 }],
      from: 'mixed',
    });
    expect(body).not.toContain('sekret-token-123');
    // One line for the message, without the row (personal data) and without secrets.
    const lines = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({
        event: 'rows_rejected',
        messageId: 'mixed',
        rows: 1,
        statuses: [422],
        sent: 'rejects queue',
      }),
    ]);
    expect(logged.join('\n')).not.toContain('listing 3');
    expect(logged.join('\n')).not.toContain('sekret-token-123');
  });

  test('records without messageAttributes, or without the rows attribute, fail at most themselves', async () => {
    const bare = sqsRecord(rows(1, 3), { messageId: 'bare', noAttributes: true });
    const noRows = sqsRecord(rows(4, 3), { messageId: 'no-rows' });
    delete (noRows.messageAttributes as Record<string, unknown>).rows;
    const broken = {
      ...sqsRecord([], { messageId: 'no-body', noAttributes: true }),
      body: undefined,
    } as unknown as typeof bare;
    const answer = await handler(
      { Records: [bare, noRows, broken, sqsRecord(rows(7, 3), { messageId: 'fine' })] },
      context(),
    );
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'no-body' }]);
    expect(
      lb.backends
        .flatMap((b) => b.acceptedIds())
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('a malformed message is failed (for the DLQ) without holding up the others', async () => {
    const bad = sqsRecord([], { messageId: 'bad', body: '{"v":2,"rows":[]}' });
    const answer = await handler({ Records: [bad, sqsRecord(rows(1, 5), { messageId: 'good' })] }, context());
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
    expect(JSON.parse(logged[0] as string)).toMatchObject({ event: 'message_malformed', messageId: 'bad' });
  });

  test('near the deadline no new request starts and the unfinished messages are reported', async () => {
    for (const b of lb.backends) b.setLatency(300);
    const records = [
      sqsRecord(rows(1, 5), { messageId: 'quick' }),
      sqsRecord(rows(10, 25), { messageId: 'slow-1' }),
      sqsRecord(rows(40, 25), { messageId: 'slow-2' }),
    ];
    const started = Date.now();
    const answer = await handler({ Records: records }, context(1000));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'slow-1' }, { itemIdentifier: 'slow-2' }]);
  });
});

/** A forwarder of its own (its own "container"), with rejects kept in memory when asked. */
function forwarderFor(env: Record<string, string>, opts: { rejects?: boolean } = {}) {
  const lines: Record<string, unknown>[] = [];
  const rejected: { job: string; from: string; rows: RejectedRow[] }[] = [];
  const rejects = async (job: string, r: readonly RejectedRow[], from: string) =>
    void rejected.push({ job, from, rows: [...r] });
  const f = new Forwarder(
    parseForwarderEnv({ TARGET_URL: `${lb.url}/items`, RETRIES: '0', ...env }),
    (l) => void lines.push(JSON.parse(l)),
    opts.rejects ? { rejects } : {},
  );
  return {
    f,
    lines,
    rejected,
    ids: () => rejected.flatMap((r) => r.rows.map((x) => (JSON.parse(x.row) as { id: number }).id)),
  };
}

describe('forwarder: what happens to refused rows and messages', () => {
  test('without a rejects queue, a message holding a refused row stays on the queue, and says why', async () => {
    for (const b of lb.backends) b.setFault(({ ids }) => (ids.includes('3') ? { status: 422 } : undefined));
    const { f, lines } = forwarderFor({ BATCH_SIZE: '4' });
    try {
      const answer = await f.handle(
        { Records: [sqsRecord(rows(1, 8), { messageId: 'keep' }), sqsRecord(rows(9, 4), { messageId: 'clean' })] },
        context(),
      );
      expect(answer.batchItemFailures).toEqual([{ itemIdentifier: 'keep' }]);
      expect(lines).toEqual([
        expect.objectContaining({
          event: 'rows_rejected',
          messageId: 'keep',
          rows: 1,
          kept: expect.stringContaining('no rejects queue'),
        }),
      ]);
      expect(f.totals).toMatchObject({ rejected: 0, rejectedKept: 1 });
    } finally {
      await f.close();
    }
  });

  test.each([301, 302, 401, 403, 404, 405, 407])(
    'an endpoint answering %i to everything: every message stays, nothing is set aside, one log line',
    async (status) => {
      for (const b of lb.backends) b.setFault(() => ({ status, body: `no (${TOKEN})` }));
      const { f, lines, rejected } = forwarderFor(
        { BATCH_SIZE: '5', CONCURRENCY: '2', HEADERS: JSON.stringify({ Authorization: TOKEN }) },
        { rejects: true },
      );
      try {
        for (const round of [1, 2]) {
          const records = [1, 11, 21].map((from) => sqsRecord(rows(from, 10), { messageId: `m${round}-${from}` }));
          const answer = await f.handle({ Records: records }, context());
          expect(answer.batchItemFailures.map((x) => x.itemIdentifier)).toEqual(records.map((r) => r.messageId));
        }
        expect(rejected).toEqual([]);
        expect(f.totals).toMatchObject({ delivered: 0, rejected: 0, endpointRefused: 6 });
        expect(lines).toEqual([expect.objectContaining({ level: 'error', event: 'endpoint_refused', status })]);
        expect(JSON.stringify(lines)).not.toContain('sekret-token-123');
        // The first refusal stops the call: no request per row, and none after it in the call.
        expect(lb.backends.reduce((n, b) => n + b.counts.requests, 0)).toBeLessThanOrEqual(2 * 2);
      } finally {
        await f.close();
      }
    },
  );

  test('a 413 halves the request; a row refused with 413 on its own is a row problem, set aside', async () => {
    for (const b of lb.backends)
      b.setFault(({ ids }) => (ids.length > 2 || ids.includes('7') ? { status: 413 } : undefined));
    const { f, ids } = forwarderFor({ BATCH_SIZE: '8' }, { rejects: true });
    try {
      const answer = await f.handle({ Records: [sqsRecord(rows(1, 16), { messageId: 'big' })] }, context());
      expect(answer.batchItemFailures).toEqual([]);
      expect(ids()).toEqual([7]);
      const delivered = lb.backends
        .flatMap((b) => b.acceptedIds())
        .map(Number)
        .sort((a, b) => a - b);
      expect([...delivered, ...ids()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    } finally {
      await f.close();
    }
  });

  test('the pieces of a halved batch carry the same idempotency keys on every delivery', async () => {
    for (const b of lb.backends)
      b.setFault(({ ids }) => (ids.includes('5') || ids.includes('12') ? { status: 400 } : undefined));
    const keys: string[][] = [];
    for (const _ of [1, 2]) {
      const { f, ids } = forwarderFor({ BATCH_SIZE: '10' }, { rejects: true });
      try {
        await f.handle({ Records: [sqsRecord(rows(1, 20), { messageId: 'same' })] }, context());
        expect(ids().sort((a, b) => a - b)).toEqual([5, 12]);
      } finally {
        await f.close();
      }
      keys.push(
        requests()
          .map((r) => String(r.headers['idempotency-key']))
          .sort(),
      );
      for (const b of lb.backends) b.clear();
    }
    expect(keys[0]?.length).toBeGreaterThan(4);
    expect(keys[1]).toEqual(keys[0]);
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
    expect(
      requests()
        .map((r) => r.body)
        .sort(),
    ).toEqual([big, makeRow(2, 50)].sort());
  });
});
