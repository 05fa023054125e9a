import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { StickyHttpClient } from '../../src/http/sticky-client.js';

/**
 * An API that answers from a script, one step per request, and records the headers of each.
 * A step is a status and the Set-Cookie lines to answer with.
 */
async function startScriptedApi(script: readonly { status: number; setCookie?: string[] }[]) {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(req.headers);
      const step = script[seen.length - 1] ?? { status: 200 };
      if (step.setCookie) res.setHeader('set-cookie', step.setCookie);
      res.writeHead(step.status).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/listings`,
    seen,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const clientFor = (url: string) =>
  new StickyHttpClient({
    url,
    method: 'POST',
    headers: { authorization: 'Bearer t' },
    sticky: 'lane',
    timeoutMs: 5000,
    retry: { retries: 5, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5 },
    laneFailureLimit: 3,
  });

describe("a lane's request headers, made once and again only when its cookie changes", () => {
  it('carries a new cookie from the next request, a replaced one at once, and none once the lane is re-placed', async () => {
    await using api = await startScriptedApi([
      { status: 200, setCookie: ['A=1; Path=/'] },
      { status: 200, setCookie: ['A=1; Path=/'] },
      { status: 200, setCookie: ['A=2; Path=/', 'B=3; Path=/'] },
      // Three failures in a row: the lane forgets its cookies to be placed afresh.
      { status: 503 },
      { status: 503 },
      { status: 503 },
      { status: 200, setCookie: ['A=9; Path=/'] },
      { status: 200 },
    ]);
    const client = clientFor(api.url);
    try {
      for (const key of ['k1', 'k2', 'k3', 'k4', 'k5']) expect((await client.send('{}', key)).ok).toBe(true);
    } finally {
      await client.close();
    }
    expect(api.seen.map((h) => h.cookie)).toEqual([
      undefined,
      'A=1',
      'A=1',
      'A=2; B=3',
      'A=2; B=3',
      'A=2; B=3',
      undefined, // re-placed: no cookie, not the one it fled
      'A=9',
    ]);
    // The key is written into the lane's list per request; a retry sends its request's key again.
    expect(api.seen.map((h) => h['idempotency-key'])).toEqual(['k1', 'k2', 'k3', 'k4', 'k4', 'k4', 'k4', 'k5']);
    for (const h of api.seen) {
      expect(h.authorization).toBe('Bearer t');
      expect(h['content-type']).toBe('application/json');
    }
  });

  it('a lane whose cookie is deleted sends none from the next request on', async () => {
    await using api = await startScriptedApi([
      { status: 200, setCookie: ['S=1; Path=/'] },
      { status: 200, setCookie: ['S=1; Max-Age=0; Path=/'] },
      { status: 200 },
    ]);
    const client = clientFor(api.url);
    try {
      for (const key of ['k1', 'k2', 'k3']) expect((await client.send('{}', key)).ok).toBe(true);
    } finally {
      await client.close();
    }
    expect(api.seen.map((h) => h.cookie)).toEqual([undefined, 'S=1', undefined]);
  });
});
