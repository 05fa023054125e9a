import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { importWith, makeRows } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** An API that answers 200 at once, then drips its body one byte every `everyMs`: an idle timeout never fires. */
async function startDripper(everyMs: number, bytes: number, drips: (n: number) => boolean) {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const n = ++requests;
      if (!drips(n)) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes) });
      let sent = 0;
      const t = setInterval(() => {
        if (res.destroyed || ++sent > bytes) {
          clearInterval(t);
          timers.delete(t);
          res.end();
          return;
        }
        res.write(' ');
      }, everyMs);
      timers.add(t);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rows`,
    get requests() {
      return requests;
    },
    async [Symbol.asyncDispose]() {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('--timeout is a deadline for the whole request (issue 8, item 16)', () => {
  it('an answer that drips a byte every 100 ms times out at --timeout, and the retry delivers', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(1));
    // 60 bytes at 100 ms: 6 s of answer, each gap far below the 700 ms timeout.
    await using api = await startDripper(100, 60, (n) => n === 1);
    const t0 = Date.now();
    const result = await importWith({ from, to: api.url, batchSize: '1', timeout: '700ms', retries: '2' });
    const took = Date.now() - t0;
    expect(result.thisRun).toMatchObject({ delivered: 1, failed: 0 });
    expect(result.retries).toBe(1);
    expect(api.requests).toBe(2);
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(3000);
  });

  it('a dripping API with no retries left fails the row with the deadline as its error', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(2));
    const failed = `${dir.path}/f.ndjson`;
    await using api = await startDripper(100, 60, (n) => n > 1);
    const result = await importWith({
      from,
      to: api.url,
      batchSize: '1',
      concurrency: '1',
      timeout: '300ms',
      retries: '1',
      failed,
    });
    expect(result.thisRun).toMatchObject({ delivered: 1, failed: 1 });
    expect(api.requests).toBe(3);
    const { readFile } = await import('node:fs/promises');
    expect(JSON.parse(await readFile(failed, 'utf8'))).toMatchObject({
      status: null,
      error: 'no complete answer within 300 ms (--timeout)',
    });
  });
});
