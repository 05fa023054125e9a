import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BulkImportError } from '../../src/errors.js';
import type { RetryPolicy } from '../../src/http/retry-policy.js';
import { attributesBytes, type EnvelopeMeta } from '../../src/queue/envelope.js';
import { SqsSink, type SqsSinkConfig } from '../../src/sink/sqs-sink.js';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { LazyBatch } from '../../src/source/batch.js';
import type { Batch, Receipt } from '../../src/types.js';
import { drainQueue, idsIn, makeBatches } from '../helpers/queue-fixtures.js';
import { startSqsFaultProxy } from '../helpers/sqs-fault-proxy.js';

const FAST_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 100 };
let sqs: LocalSqs;
let queues = 0;

beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

function sinkFor(queueUrl: string, over: Partial<SqsSinkConfig> = {}): SqsSink {
  return new SqsSink({
    queueUrl,
    connection: sqs.connection,
    job: 'job-1',
    messageBytes: 65_536,
    concurrency: 8,
    retry: FAST_RETRY,
    ...over,
  });
}

async function deliverAll(
  sink: SqsSink,
  batches: AsyncIterable<Batch>,
  signal = new AbortController().signal,
): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  try {
    for await (const r of sink.deliver(batches, { signal, hardSignal: new AbortController().signal })) receipts.push(r);
  } finally {
    await sink.close();
  }
  return receipts.sort((a, b) => a.seq - b.seq);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('SqsSink', () => {
  test('every row arrives once, in messages packed close to 64 KiB', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    const sink = sinkFor(q.url);
    const receipts = await deliverAll(sink, makeBatches(20_000, 100));
    expect(receipts.map((r) => r.seq)).toEqual(range(200).map((i) => i - 1));
    expect(receipts.every((r) => r.delivered === r.rows && r.failed.length === 0)).toBe(true);
    const messages = await drainQueue(sqs.sqs, q.url);
    expect(idsIn(messages).sort((a, b) => a - b)).toEqual(range(20_000));
    const sizes = messages.map((m) => Buffer.byteLength(m.Body as string) + attributesBytes(metaOf(m)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65_536);
    expect(sizes.filter((s) => s < 60_000).length).toBeLessThanOrEqual(1); // only the last one is short
    // Issue 8 item 21: the key attributes are those of the message's own first and last row
    // (set only where the message starts / ends on a batch boundary), never the batch's.
    let exact = 0;
    for (const m of messages) {
      const rows = idsIn([m]);
      const meta = metaOf(m);
      if (meta.firstKey) expect(meta.firstKey).toEqual([String(rows[0])]);
      if (meta.lastKey) expect(meta.lastKey).toEqual([String(rows.at(-1))]);
      expect(meta.firstKey !== undefined).toBe((rows[0] as number) % 100 === 1);
      expect(meta.lastKey !== undefined).toBe((rows.at(-1) as number) % 100 === 0);
      exact += (meta.firstKey ? 1 : 0) + (meta.lastKey ? 1 : 0);
    }
    expect(exact).toBeGreaterThan(0);
    const c = sink.counters;
    expect(c.messages).toBe(messages.length);
    expect(c.billed).toBeLessThanOrEqual(Math.ceil((c.payloadBytes / 65_536) * 1.1));
  });

  test('rows read as UTF-8 bytes arrive as the same text: quotes, escapes, multi-byte characters', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    const sink = sinkFor(q.url);
    // No characters beyond U+FFFF: fauxqs refuses them (SQS itself takes them).
    const row = (id: number) =>
      `{"id":${id},"t":"Zürich \\"${id}\\" ✓ back\\\\slash\\nline","pad":"${'é'.repeat(200 + (id % 50))}"}`;
    // As the PostgreSQL source hands batches over: each one's JSON array as bytes, never a string.
    async function* batches(): AsyncGenerator<Batch> {
      for (let seq = 0; seq < 30; seq++) {
        const ids = Array.from({ length: 100 }, (_, i) => seq * 100 + i + 1);
        const bytes = Buffer.from(`[${ids.map(row).join(',')}]`, 'utf8');
        yield new LazyBatch(seq, ids.length, [String(ids[0])], [String(ids.at(-1))], `k${seq}`, { bytes });
      }
    }
    const receipts = await deliverAll(sink, batches());
    expect(receipts.every((r) => r.delivered === r.rows && r.failed.length === 0)).toBe(true);
    const messages = await drainQueue(sqs.sqs, q.url);
    expect(messages.length).toBeGreaterThan(10);
    const arrived = messages
      .flatMap((m) => (JSON.parse(m.Body as string) as { rows: { id: number }[] }).rows)
      .sort((a, b) => a.id - b.id);
    expect(arrived).toEqual(range(3000).map((id) => JSON.parse(row(id))));
    const sizes = messages.map((m) => Buffer.byteLength(m.Body as string) + attributesBytes(metaOf(m)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65_536);
  });

  test('--rows-per-message 1: one row per message, ten messages per call', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    const sink = sinkFor(q.url, { rowsPerMessage: 1 });
    await deliverAll(sink, makeBatches(500, 100));
    expect(sink.counters).toMatchObject({ messages: 500, calls: 50, billed: 50 });
    expect(idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b)).toEqual(range(500));
  });

  test("messages fit a queue's smaller MaximumMessageSize", async () => {
    const q = await sqs.createQueue(`sink-${++queues}`, { MaximumMessageSize: '2048' });
    const sink = sinkFor(q.url);
    const receipts = await deliverAll(sink, makeBatches(300, 50));
    expect(receipts.reduce((n, r) => n + r.delivered, 0)).toBe(300);
    const messages = await drainQueue(sqs.sqs, q.url);
    expect(Math.max(...messages.map((m) => Buffer.byteLength(m.Body as string)))).toBeLessThanOrEqual(2048);
    expect(idsIn(messages).sort((a, b) => a - b)).toEqual(range(300));
  });

  test('entries a batch reports as Failed are sent again, not lost', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    await using proxy = await startSqsFaultProxy(sqs.endpoint, (call) =>
      call <= 3
        ? {
            kind: 'fail-entries',
            fail: (e) => (e.Id === '1' ? { code: 'InternalError', senderFault: false } : undefined),
          }
        : undefined,
    );
    const sink = sinkFor(q.url, { connection: { ...sqs.connection, endpoint: proxy.endpoint }, rowsPerMessage: 20 });
    const receipts = await deliverAll(sink, makeBatches(1000, 100));
    expect(receipts.reduce((n, r) => n + r.delivered, 0)).toBe(1000);
    expect(sink.counters.retries).toBeGreaterThan(0);
    expect(idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b)).toEqual(range(1000));
  });

  test('throttling and 5xx answers are retried with backoff', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    await using proxy = await startSqsFaultProxy(sqs.endpoint, (call) =>
      call === 1
        ? { kind: 'error', status: 400, type: 'ThrottlingException' }
        : call === 2
          ? { kind: 'error', status: 503, type: 'ServiceUnavailable' }
          : undefined,
    );
    const sink = sinkFor(q.url, { connection: { ...sqs.connection, endpoint: proxy.endpoint }, concurrency: 1 });
    const receipts = await deliverAll(sink, makeBatches(2000, 100));
    expect(receipts.reduce((n, r) => n + r.delivered, 0)).toBe(2000);
    expect(proxy.batches.length).toBeGreaterThan(2);
    expect(idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b)).toEqual(range(2000));
  });

  test('an entry refused for its content is split until the bad row stands alone', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    await using proxy = await startSqsFaultProxy(sqs.endpoint, () => ({
      kind: 'fail-entries',
      fail: (e) =>
        e.MessageBody.includes('{"id":77,') ? { code: 'InvalidMessageContents', senderFault: true } : undefined,
    }));
    const sink = sinkFor(q.url, { connection: { ...sqs.connection, endpoint: proxy.endpoint } });
    const receipts = await deliverAll(sink, makeBatches(400, 100));
    const failed = receipts.flatMap((r) => r.failed);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.row).toContain('"id":77,');
    expect(failed[0]?.error).toContain('InvalidMessageContents');
    expect(receipts.reduce((n, r) => n + r.delivered, 0)).toBe(399);
    expect(idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b)).toEqual(range(400).filter((id) => id !== 77));
  });

  test('a graceful stop enqueues what was packed and acknowledges exactly that', async () => {
    const q = await sqs.createQueue(`sink-${++queues}`);
    const stop = new AbortController();
    async function* stopping(): AsyncGenerator<Batch> {
      for await (const b of makeBatches(5000, 100)) {
        if (b.seq === 17) stop.abort(); // a Ctrl-C while the source is mid-way
        yield b;
      }
    }
    const receipts = await deliverAll(sinkFor(q.url), stopping(), stop.signal);
    const acknowledged = receipts.reduce((n, r) => n + r.delivered, 0);
    expect(receipts.map((r) => r.seq)).toEqual(range(receipts.length).map((i) => i - 1));
    const ids = idsIn(await drainQueue(sqs.sqs, q.url)).sort((a, b) => a - b);
    expect(ids).toEqual(range(acknowledged));
  });

  test('a queue that does not exist fails before any row is read', async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Batch> {
      for await (const b of makeBatches(100, 10)) {
        pulled++;
        yield b;
      }
    }
    const missing = `${sqs.endpoint}/000000000000/no-such-queue`;
    const error = await deliverAll(sinkFor(missing), counted()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkImportError);
    expect((error as BulkImportError).code).toBe('TARGET_UNREACHABLE');
    expect((error as Error).message).toMatch(/does not exist/);
    expect(pulled).toBe(0);
  });
});

function metaOf(m: { MessageAttributes?: Record<string, { StringValue?: string }> }): EnvelopeMeta {
  const a = m.MessageAttributes ?? {};
  const key = (name: string) => (a[name]?.StringValue ? { [name]: JSON.parse(a[name].StringValue) as string[] } : {});
  return {
    job: a.job?.StringValue ?? '',
    rows: Number(a.rows?.StringValue),
    range: JSON.parse(a.keyRange?.StringValue ?? '[[],[]]') as [string[], string[]],
    ...key('firstKey'),
    ...key('lastKey'),
  };
}
