import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { AttemptWatch, DeadlineError, dispatchOnce } from '../../src/http/dispatch-once.js';

/** Answers /slow after 250 ms, /hang never; /fast at once. */
async function startApi() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/fast') res.end('{}');
      else if (req.url === '/slow') setTimeout(() => res.end('{}'), 250);
      else res.writeHead(200, { 'content-length': '10' }).write(' '); // /hang: one byte, never the rest
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const request = (path: string) => ({ path, method: 'POST', headers: ['content-type', 'application/json'], body: '{}' });

describe("a lane's one timer and one stop listener serve attempt after attempt", () => {
  it('each attempt gets the whole deadline from its own start, and a stop aborts whichever attempt runs', async () => {
    await using api = await startApi();
    const client = new Client(api.origin, { pipelining: 1 });
    const watch = new AttemptWatch(400);
    const stop = new AbortController();
    try {
      // 250 ms of a 400 ms deadline used, then the next attempt at once on the same lane:
      expect((await dispatchOnce(client, request('/slow'), watch, stop.signal)).status).toBe(200);
      const t0 = Date.now();
      const late = await dispatchOnce(client, request('/hang'), watch, stop.signal).catch((e: unknown) => e);
      const took = Date.now() - t0;
      expect(late).toBeInstanceOf(DeadlineError);
      expect(took).toBeGreaterThanOrEqual(380); // not 150 ms: the deadline restarted with the attempt
      expect(took).toBeLessThan(1500);
      // An idle interval longer than the deadline fires the timer with no attempt: nothing happens.
      await new Promise((r) => setTimeout(r, 450));
      expect((await dispatchOnce(client, request('/fast'), watch, stop.signal)).status).toBe(200);
      // The stop reaches the attempt running now, through the listener the lane added once.
      const hanging = dispatchOnce(client, request('/hang'), watch, stop.signal).catch((e: unknown) => e);
      setTimeout(() => stop.abort(new Error('stopped')), 50);
      const stopped = await hanging;
      expect(stopped).toBeInstanceOf(Error);
      expect(stopped).not.toBeInstanceOf(DeadlineError);
      // Stopped before it starts: refused at once.
      const refused = await dispatchOnce(client, request('/fast'), watch, stop.signal).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
    } finally {
      watch.close();
      await client.destroy();
    }
  });
});
