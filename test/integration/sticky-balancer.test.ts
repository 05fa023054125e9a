import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { startHttpSink } from '../helpers/http-sink.js';
import { startStickyBalancer as startDemoBalancer } from '../../src/demo/sandbox/sticky-balancer.js';
import { startStickyBalancer } from '../helpers/sticky-balancer.js';

// The demo's balancer (plain backends) where plain backends do; the tests' one (recording sinks
// with fault scripts) where a test reads requests or scripts a fault.

/** One keep-alive connection with a tiny cookie jar; `keep` says which cookies it sends back. */
class Lane {
  readonly jar = new Map<string, string>();
  readonly client: Client;
  constructor(
    url: string,
    private readonly keep: (name: string) => boolean = () => true,
  ) {
    this.client = new Client(url);
    lanes.push(this);
  }

  async post(body: unknown, cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')) {
    const res = await this.client.request({
      path: '/rows',
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    });
    const text = await res.body.text();
    const setCookie = [res.headers['set-cookie'] ?? []].flat();
    for (const c of setCookie) {
      const pair = c.split(';')[0];
      const eq = pair.indexOf('='); // values are base64 and may end in '='
      if (this.keep(pair.slice(0, eq))) this.jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return { status: res.statusCode, backend: res.headers['x-backend'], setCookie, text };
  }
}
const lanes: Lane[] = [];
afterEach(async () => {
  await Promise.all(lanes.splice(0).map((l) => l.client.destroy()));
});

describe('sticky balancer', () => {
  it('round-robins cookieless requests even on one keep-alive connection', async () => {
    await using lb = await startDemoBalancer({ backends: 3 });
    const lane = new Lane(lb.url, () => false);
    const served = [];
    for (let i = 0; i < 6; i++) served.push((await lane.post({ id: i })).backend);
    expect(served).toEqual(['b1', 'b2', 'b3', 'b1', 'b2', 'b3']);
    const routes = lb.routes();
    expect(routes.map((r) => [r.backend, r.requests, r.withCookie])).toEqual([
      ['b1', 2, 0],
      ['b2', 2, 0],
      ['b3', 2, 0],
    ]);
    expect(new Set(routes.map((r) => r.socketId)).size).toBe(1);
    expect(lb.backends.map((b) => b.acceptedIds())).toEqual([
      ['0', '3'],
      ['1', '4'],
      ['2', '5'],
    ]);
  });

  it('keeps each cookie-keeping connection on one backend after its first request', async () => {
    await using lb = await startStickyBalancer({ backends: 3 });
    const three = [new Lane(lb.url), new Lane(lb.url), new Lane(lb.url)];
    for (let round = 0; round < 5; round++) for (const lane of three) await lane.post({ id: round });
    const routes = lb.routes();
    expect(routes).toHaveLength(3);
    expect(routes.map((r) => [r.backend, r.requests, r.withCookie])).toEqual([
      ['b1', 5, 4],
      ['b2', 5, 4],
      ['b3', 5, 4],
    ]);
    expect(lb.perBackend()).toEqual({ b1: 5, b2: 5, b3: 5 });
    // The backend sees one connection, and the client's cookie from the second request on.
    const b1 = lb.backends[0].requests;
    expect(new Set(b1.map((r) => r.socketId))).toEqual(new Set([routes[0].socketId]));
    expect(b1.map((r) => r.headers.cookie?.includes('AWSALB=') ?? false)).toEqual([false, true, true, true, true]);
  });

  it('re-issues AWSALB and AWSALBCORS with a fresh Expires on every response', async () => {
    await using lb = await startDemoBalancer({ backends: 2, durationSec: 600 });
    const lane = new Lane(lb.url);
    for (let i = 0; i < 3; i++) {
      const { setCookie } = await lane.post({ id: i });
      expect(setCookie).toHaveLength(2);
      const [alb, cors] = setCookie;
      expect(alb).toMatch(/^AWSALB=[A-Za-z0-9+/=]+; Expires=[^;]+; Path=\/$/);
      expect(cors).toMatch(/^AWSALBCORS=[A-Za-z0-9+/=]+; Expires=[^;]+; Path=\/; SameSite=None; Secure$/);
      expect(cors.split(';')[0].slice('AWSALBCORS='.length)).toBe(alb.split(';')[0].slice('AWSALB='.length));
      const expires = Date.parse(/Expires=([^;]+)/.exec(alb)![1]);
      expect(Math.abs(expires - (Date.now() + 600_000))).toBeLessThan(5_000);
    }
    await using plain = await startDemoBalancer({ backends: 1, cors: false });
    expect((await new Lane(plain.url).post({ id: 1 })).setCookie.map((c) => c.split('=')[0])).toEqual(['AWSALB']);
  });

  it('places a request with an undecodable cookie afresh and gives it a valid cookie', async () => {
    await using lb = await startDemoBalancer({ backends: 3 });
    const lane = new Lane(lb.url);
    const first = await lane.post({ id: 1 }, 'AWSALB=garbage; AWSALBCORS=garbage');
    expect(first.status).toBe(200);
    expect(lane.jar.get('AWSALB')).not.toBe('garbage');
    for (let i = 0; i < 3; i++) expect((await lane.post({ id: i })).backend).toBe(first.backend);
    // The CORS twin alone is enough to stay put, as for a cross-origin browser request.
    expect((await lane.post({ id: 9 }, `AWSALBCORS=${lane.jar.get('AWSALBCORS')}`)).backend).toBe(first.backend);
  });

  it('moves a lane off an unhealthy backend with a new cookie, and fails open when all are down', async () => {
    await using lb = await startDemoBalancer({ backends: 3 });
    const lane = new Lane(lb.url);
    expect((await lane.post({ id: 1 })).backend).toBe('b1');
    const oldCookie = lane.jar.get('AWSALB');
    lb.setHealthy('b1', false);
    const moved = await lane.post({ id: 2 });
    expect(moved.status).toBe(200);
    expect(moved.backend).not.toBe('b1');
    expect(lane.jar.get('AWSALB')).not.toBe(oldCookie);
    lb.setHealthy('b1', true);
    for (let i = 0; i < 3; i++) expect((await lane.post({ id: 3 + i })).backend).toBe(moved.backend);
    expect(lb.backends[0].counts.requests).toBe(1);
    for (const b of lb.backends) lb.setHealthy(b.name, false);
    expect(await lane.post({ id: 7 })).toMatchObject({ status: 503, text: '{"error":"unhealthy"}' });
    expect(() => lb.setHealthy('nope', false)).toThrow(/no backend/);
  });

  it('runs each backend with its own options, and reports a backend reset as 502', async () => {
    await using lb = await startStickyBalancer({
      backends: [{ name: 'fast' }, { name: 'broken', fault: () => ({ reset: true }) }],
    });
    const lane = new Lane(lb.url, () => false);
    expect((await lane.post({ id: 1 })).backend).toBe('fast');
    const bad = await lane.post({ id: 2 });
    expect(bad.status).toBe(502);
    expect(bad.setCookie[0]).toMatch(/^AWSALB=/);
    expect((await lane.post({ id: 3 })).status).toBe(200); // the client connection survived
    expect(lb.backends.map((b) => [b.name, b.counts.accepted, b.counts.resets])).toEqual([
      ['fast', 2, 0],
      ['broken', 0, 1],
    ]);
  });

  it('shows why stickiness pays when the API builds a session per cookieless request', async () => {
    await using lb = await startDemoBalancer({ backends: Array.from({ length: 3 }, () => ({ sessionSetupMs: 20 })) });
    const sessions = () => lb.backends.reduce((n, b) => n + b.counts.sessions, 0);
    const sticky = new Lane(lb.url);
    for (let i = 0; i < 6; i++) await sticky.post({ id: i });
    expect(sessions()).toBe(1);
    // Keeping SESSION but not the ALB cookie rotates targets, and no target knows the others' sessions.
    const unstuck = new Lane(lb.url, (name) => name === 'SESSION');
    for (let i = 0; i < 6; i++) await unstuck.post({ id: i });
    expect(sessions()).toBe(7);
  });

  it('refuses an empty backend list', async () => {
    await expect(startDemoBalancer({ backends: 0 })).rejects.toThrow(RangeError);
    await using sink = await startHttpSink();
    expect(sink.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
