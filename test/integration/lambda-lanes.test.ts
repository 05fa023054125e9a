import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../../src/queue/sqs-event.js';
import { makeRow, sqsRecord } from '../helpers/queue-fixtures.js';
import { startStickyBalancer, upAfter, type StickyBalancer } from '../helpers/sticky-balancer.js';

/**
 * The Lambda handler's RESTICK_AFTER and TARGET_HEADER: checked at start (a bad value fails the
 * start with one line), and the container's lanes per target logged at most once a minute.
 * Each `container()` is a fresh import of the handler module: a new execution environment.
 */
type Handler = (event: SqsEvent, context: LambdaContext) => Promise<SqsBatchResponse>;

const ENV_KEYS = ['TARGET_URL', 'BATCH_SIZE', 'CONCURRENCY', 'RETRIES', 'TIMEOUT_MS', 'SAFETY_MS'];
const VARS = ['RESTICK_AFTER', 'TARGET_HEADER'];
const logged: string[] = [];
const realNow = Date.now.bind(Date);
/** Added to the clock: a minute passes for the container without the test waiting for it. */
let skew = 0;

beforeAll(() => {
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logged.push(line));
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew);
});
afterEach(() => {
  logged.length = 0;
  skew = 0;
  for (const k of [...ENV_KEYS, ...VARS]) delete process.env[k];
});
afterAll(() => {
  vi.restoreAllMocks();
});

async function container(env: Record<string, string>): Promise<Handler> {
  Object.assign(process.env, env);
  vi.resetModules();
  return (await import('../../src/lambda/handler.js')).handler;
}

const context = (): LambdaContext => ({ getRemainingTimeInMillis: () => 30_000 });
let nextId = 1;
/** 10 messages of 20 rows, fresh ids. */
const event = (): SqsEvent => ({
  Records: Array.from({ length: 10 }, () => sqsRecord(Array.from({ length: 20 }, () => makeRow(nextId++, 80)))),
});
const lines = () => logged.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the Lambda: RESTICK_AFTER and TARGET_HEADER at start', () => {
  test.each([
    [{ RESTICK_AFTER: 'soon' }, 'RESTICK_AFTER must be a duration like 5m or 30s, or off (got "soon")'],
    [{ RESTICK_AFTER: '-5m' }, 'RESTICK_AFTER must be a duration like 5m or 30s, or off (got "-5m")'],
    [{ TARGET_HEADER: 'x backend' }, 'TARGET_HEADER: "x backend" is not a valid header name'],
  ])('%o fails the start with one line; the next invocation tries again', async (env, message) => {
    const handler = await container({ TARGET_URL: 'https://api.example.com/items', ...env });
    await expect(handler({ Records: [] }, context())).rejects.toThrow(message);
    await expect(handler({ Records: [] }, context())).rejects.toThrow(message);
    expect(lines()).toEqual([
      expect.objectContaining({ level: 'error', event: 'forwarder_start_failed', error: message }),
      expect.objectContaining({ level: 'error', event: 'forwarder_start_failed', error: message }),
    ]);
  });
});

describe('the Lambda: lanes follow a changing fleet, and the container says so once a minute', () => {
  let lb: StickyBalancer;
  beforeAll(async () => {
    lb = await startStickyBalancer({ backends: [{ latencyMs: 5 }, { latencyMs: 5 }, { latencyMs: 5 }], down: ['b3'] });
  });
  afterAll(async () => {
    await lb.close();
  });

  test('RESTICK_AFTER=1s, TARGET_HEADER=x-backend: a target back after 1 s gets lanes; one `lanes` line a minute', async () => {
    const handler = await container({
      TARGET_URL: `${lb.url}/items`,
      BATCH_SIZE: '5',
      CONCURRENCY: '4',
      RETRIES: '2',
      TIMEOUT_MS: '2000',
      SAFETY_MS: '100',
      RESTICK_AFTER: '1s',
      TARGET_HEADER: 'x-backend',
    });
    const cancel = upAfter(lb, 'b3', 1000);
    const started = realNow();
    let invocations = 0;
    // Invocations for 4 s (bounded in count too): the container's lanes re-ask the balancer each second.
    while (realNow() - started < 4000 && invocations < 400) {
      expect(await handler(event(), context())).toEqual({ batchItemFailures: [] });
      invocations++;
    }
    cancel();
    // Not a minute yet: nothing said, however many invocations.
    expect(lines()).toEqual([]);
    skew = 61_000;
    await handler(event(), context());
    await handler(event(), context());
    const said = lines();
    expect(said).toHaveLength(1);
    const line = said[0] as { lanesPerTarget: Record<string, number>; replaced: { restickAfter: number } };
    console.info(`lambda lanes after ${invocations + 2} invocations: ${logged[0]}`);
    expect(line).toMatchObject({ event: 'lanes', by: 'header x-backend', restickAfterMs: 1000 });
    expect(line.replaced.restickAfter).toBeGreaterThan(0);
    // b3 was out of rotation at the start: every lane began on b1 or b2. At the end b3 holds lanes
    // (the snapshot may catch a move half done, so not every target need hold one right then)…
    expect(Object.keys(line.lanesPerTarget)).toContain('b3');
    // …and took a real share of the rows once back (it was back for 3 of the 4 s).
    const b3 = lb.backends[2]?.acceptedIds().length ?? 0;
    expect(b3).toBeGreaterThan((nextId - 1) * 0.1);
    expect(Object.values(line.lanesPerTarget).reduce((n, x) => n + x, 0)).toBeLessThanOrEqual(4);
    // Every row delivered once.
    const ids = lb.backends.flatMap((b) => b.acceptedIds());
    expect(ids.length).toBe(nextId - 1);
    expect(new Set(ids).size).toBe(nextId - 1);
  }, 30_000);

  test('by default (no TARGET_HEADER) targets are the balancer cookie, hashed: its values appear nowhere', async () => {
    lb.setHealthy('b3', true);
    const handler = await container({ TARGET_URL: `${lb.url}/items`, BATCH_SIZE: '5', CONCURRENCY: '3' });
    for (let i = 0; i < 5; i++) await handler(event(), context());
    skew = 61_000;
    await handler(event(), context());
    const said = lines();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ event: 'lanes', by: 'cookie AWSALB', restickAfterMs: 300_000 });
    const targets = Object.keys((said[0] as { lanesPerTarget: Record<string, number> }).lanesPerTarget);
    expect(targets.length).toBeGreaterThanOrEqual(1);
    for (const t of targets) expect(t).toMatch(/^#[0-9a-f]{8}$/);
    for (const b of lb.backends)
      expect(logged.join('\n')).not.toContain(Buffer.from(`alb-sim:${b.name}`).toString('base64'));
  }, 30_000);
});
