import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { startApiBackend } from '../../src/demo/sandbox/api-backend.js';
import { startHttpSink, type Fault } from '../helpers/http-sink.js';

// Each undici Client is exactly one keep-alive connection, which is what the socket ids are about.
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
});

function connect(url: string): Client {
  const c = new Client(url);
  clients.push(c);
  return c;
}

async function post(c: Client, body: unknown, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await c.request({
    path: '/rows',
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, ms: performance.now() - started };
}

describe('http sink', () => {
  it('records each request with its ids, headers and connection, and answers with its name', async () => {
    await using sink = await startHttpSink({ name: 'api-1', okStatus: 201 });
    const a = connect(sink.url);
    const b = connect(sink.url);
    const first = await post(a, [{ id: 1 }, { id: 2 }], { 'idempotency-key': 'k1', cookie: 'SESSION=x' });
    await post(a, { id: 2 }, { 'idempotency-key': 'k2' });
    await post(b, { id: 3, name: 'no cookie' });
    expect(first).toMatchObject({ status: 201, text: '{"ok":true}' });
    expect(first.headers['x-backend']).toBe('api-1');
    expect(sink.requests.map((r) => [r.seq, r.ids, r.status, r.headers['idempotency-key']])).toEqual([
      [1, ['1', '2'], 201, 'k1'],
      [2, ['2'], 201, 'k2'],
      [3, ['3'], 201, undefined],
    ]);
    expect(sink.requests[0]).toMatchObject({
      method: 'POST',
      path: '/rows',
      backend: 'api-1',
      body: '[{"id":1},{"id":2}]',
    });
    expect(sink.requests[0].headers.cookie).toBe('SESSION=x');
    const [s1, s2, s3] = sink.requests.map((r) => r.socketId);
    expect(s1).toBe(s2);
    expect(s3).not.toBe(s1);
    expect(sink.acceptedIds()).toEqual(['1', '2', '2', '3']);
    expect(sink.idCounts().get('2')).toBe(2);
    expect(sink.counts).toMatchObject({ requests: 3, accepted: 3, rejected: 0, rows: 4 });
  });

  it('keeps only ids, or only counters, when asked (the bench path)', async () => {
    await using ids = await startHttpSink({ record: 'ids', idField: 'uuid' });
    await using count = await startHttpSink({ record: 'count' });
    for (const sink of [ids, count]) {
      const c = connect(sink.url);
      for (let i = 0; i < 3; i++) await post(c, [{ uuid: `u${i}` }, { uuid: 'same' }]);
      expect(sink.requests).toEqual([]);
      expect(sink.counts).toMatchObject({ requests: 3, accepted: 3, rows: 6 });
    }
    expect(ids.idCounts()).toEqual(
      new Map([
        ['u0', 1],
        ['same', 3],
        ['u1', 1],
        ['u2', 1],
      ]),
    );
    expect(count.acceptedIds()).toEqual([]);
    ids.clear();
    expect(ids.counts.requests).toBe(0);
    expect(ids.acceptedIds()).toEqual([]);
  });

  it('answers 400 to a body that is not a JSON object or array', async () => {
    await using sink = await startHttpSink();
    const c = connect(sink.url);
    expect(await post(c, '{"id": 1')).toMatchObject({ status: 400, text: '{"error":"invalid JSON"}' });
    expect((await post(c, '42')).status).toBe(400);
    expect(sink.counts).toMatchObject({ accepted: 0, rejected: 2 });
  });

  it('plays a fault script: 503, 429 with Retry-After, reset, delay', async () => {
    const script: (Fault | undefined)[] = [
      { status: 503 },
      { status: 429, retryAfter: '3', body: '{"slow":"down"}' },
      { reset: true },
      { delayMs: 200 },
    ];
    await using sink = await startHttpSink({ fault: ({ n }) => script[n - 1] });
    const c = connect(sink.url);
    expect((await post(c, { id: 1 })).status).toBe(503);
    const limited = await post(c, { id: 1 });
    expect(limited).toMatchObject({ status: 429, text: '{"slow":"down"}' });
    expect(limited.headers['retry-after']).toBe('3');
    await expect(post(c, { id: 1 })).rejects.toMatchObject({ code: 'ECONNRESET' });
    const late = await post(c, { id: 1 });
    expect(late.status).toBe(200);
    expect(late.ms).toBeGreaterThanOrEqual(190);
    expect((await post(c, { id: 1 })).status).toBe(200);
    expect(sink.requests.map((r) => r.status)).toEqual([503, 429, 0, 200, 200]);
    expect(sink.counts).toMatchObject({ requests: 5, accepted: 2, rejected: 2, resets: 1 });
    expect(sink.acceptedIds()).toEqual(['1', '1']);
  });

  it('rejects bodies holding a listed id with a 400 that names it', async () => {
    await using sink = await startHttpSink({ rejectIds: ['2', '9'] });
    const c = connect(sink.url);
    const bad = await post(c, [{ id: 1 }, { id: 2 }]);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({ error: 'rejected ids', ids: ['2'] });
    expect((await post(c, [{ id: 3 }])).status).toBe(200);
    expect(sink.acceptedIds()).toEqual(['3']);
  });

  it('delays every answer by the latency, which can change while running', async () => {
    await using sink = await startHttpSink({ latencyMs: 150 });
    const c = connect(sink.url);
    expect((await post(c, { id: 1 })).ms).toBeGreaterThanOrEqual(140);
    sink.setLatency(0);
    sink.setFault(() => ({ status: 500 }));
    expect((await post(c, { id: 1 })).status).toBe(500);
    sink.setFault(() => ({ status: 202, body: '{"queued":true}' }));
    expect(await post(c, { id: 1 })).toMatchObject({ status: 202, text: '{"queued":true}' });
    sink.setFault();
    expect((await post(c, { id: 1 })).status).toBe(200);
  });

  it('makes only requests without its own session cookie pay the session setup', async () => {
    await using sink = await startHttpSink({ name: 'b1', sessionSetupMs: 400 });
    const c = connect(sink.url);
    const fresh = await post(c, { id: 1 });
    const cookie = String(fresh.headers['set-cookie']).split(';')[0];
    expect(cookie).toBe('SESSION=b1-1');
    expect(fresh.ms).toBeGreaterThanOrEqual(390);
    const reused = await post(c, { id: 2 }, { cookie: `AWSALB=x; ${cookie}` });
    expect(reused.headers['set-cookie']).toBeUndefined();
    expect(reused.ms).toBeLessThan(300);
    // Another backend's session, or one never issued, is no session here.
    for (const forged of ['SESSION=b2-1', 'SESSION=b1-99']) {
      const r = await post(c, { id: 3 }, { cookie: forged });
      expect(r.ms).toBeGreaterThanOrEqual(390);
      expect(r.headers['set-cookie']).toBeDefined();
    }
    expect(sink.counts.sessions).toBe(3);
  });

  it('answers 503 while unhealthy', async () => {
    await using sink = await startHttpSink();
    const c = connect(sink.url);
    sink.setHealthy(false);
    expect(await post(c, { id: 1 })).toMatchObject({ status: 503, text: '{"error":"unhealthy"}' });
    sink.setHealthy(true);
    expect((await post(c, { id: 1 })).status).toBe(200);
  });

  it('closes promptly with an answer still pending', async () => {
    const sink = await startHttpSink({ latencyMs: 30_000 });
    const pending = post(connect(sink.url), { id: 1 });
    for (let i = 0; i < 100 && sink.counts.requests === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    await sink.close();
    await expect(pending).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(1000);
    await sink.close(); // idempotent
  });

  it("is the demo's plain backend underneath: the same answers and counters, no scripts, no records", async () => {
    await using api = await startApiBackend({ name: 'api', sessionSetupMs: 1 });
    const c = connect(api.url);
    const ok = await post(c, [{ id: 1 }, { id: 2 }]);
    expect(ok).toMatchObject({ status: 200, text: '{"ok":true}' });
    expect(ok.headers['x-backend']).toBe('api');
    expect(String(ok.headers['set-cookie'])).toMatch(/^SESSION=api-1;/);
    expect(await post(c, '{"id"')).toMatchObject({ status: 400, text: '{"error":"invalid JSON"}' });
    expect(api.acceptedIds()).toEqual(['1', '2']);
    expect(api.counts).toEqual({ requests: 2, accepted: 1, rejected: 1, resets: 0, rows: 2, sessions: 2 });
    expect(['requests', 'setFault'].filter((k) => k in api)).toEqual([]);
  });
});
