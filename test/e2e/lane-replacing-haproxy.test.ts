import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { PlacementReport } from '../../src/http/lane-placement.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { importWith, makeRows, range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Through a real HAProxy (Debian's package), only where it is installed already: nothing installs it.
 * HAProxy inserts its own cookie (SERVERID here), so targets are told apart by that cookie's value.
 */
const haproxy = ['/usr/sbin/haproxy', 'haproxy'].find((bin) => !spawnSync(bin, ['-v']).error);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One command to HAProxy's runtime API. */
function runtime(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const c = connect(socket, () => c.end(`${command}\n`));
    c.on('data', (d) => (out += d.toString()));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

async function listening(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`haproxy did not listen on ${port}`);
}

describe.skipIf(haproxy === undefined)('lanes follow a changing fleet, through HAProxy', () => {
  it('a server disabled at the start and enabled after 2 s gets lanes', async () => {
    await using dir = await tempDir();
    const rows = 48_000;
    const from = await dir.file('rows.ndjson', makeRows(rows));
    const sinks: HttpSink[] = await Promise.all(
      ['b1', 'b2', 'b3'].map((name) => startHttpSink({ name, latencyMs: 15, record: 'full' })),
    );
    const port = await freePort();
    const socket = join(dir.path, 'admin.sock');
    const cfg = join(dir.path, 'haproxy.cfg');
    await writeFile(
      cfg,
      [
        'global',
        `  stats socket ${socket} mode 600 level admin`,
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        'frontend fe',
        `  bind 127.0.0.1:${port}`,
        '  default_backend be',
        'backend be',
        '  balance roundrobin',
        '  cookie SERVERID insert indirect nocache',
        ...sinks.map((s, i) => `  server s${i + 1} 127.0.0.1:${s.port} cookie s${i + 1}${i === 2 ? ' disabled' : ''}`),
        '',
      ].join('\n'),
    );
    let proxy: ChildProcess | undefined;
    try {
      proxy = spawn(haproxy as string, ['-db', '-f', cfg], { stdio: 'ignore' });
      await listening(port, 5000);
      const enable = setTimeout(() => void runtime(socket, 'enable server be/s3'), 2000);
      const result = await importWith({
        from,
        to: `http://127.0.0.1:${port}/listings`,
        batchSize: '10',
        concurrency: '8',
        restickAfter: '1s',
      });
      clearTimeout(enable);
      expect(result.thisRun).toMatchObject({ delivered: rows, failed: 0 });
      const arrived = sinks.flatMap((s) => s.acceptedIds());
      expect(arrived).toHaveLength(rows);
      expect(new Set(arrived)).toEqual(new Set(range(1, rows)));
      const p = result.sink.json.lanePlacement as PlacementReport;
      console.log(`haproxy: ${JSON.stringify(p)}; b3 took ${sinks[2]!.acceptedIds().length} rows`);
      expect(p.by).toBe('cookie SERVERID');
      expect(Object.keys(p.lanesPerTarget)).toHaveLength(3);
      // Judged on the last third of the run, by time: how many rows b3 took in all depends on how
      // fast the machine got through the first 2 s, but once lanes have spread over the three
      // servers (3/3/2 at 8 lanes: b3 ~25 %), b3 holds its share whatever the machine's speed.
      const all = sinks.flatMap((s) => s.requests);
      const first = Math.min(...all.map((r) => r.at));
      const last = Math.max(...all.map((r) => r.at));
      const tail = all.filter((r) => r.at >= last - (last - first) / 3);
      const b3Share = tail.filter((r) => r.backend === 'b3').length / tail.length;
      console.log(`haproxy: b3 took ${(b3Share * 100).toFixed(0)} % of the last third's ${tail.length} requests`);
      expect(tail.length).toBeGreaterThan(200);
      expect(b3Share).toBeGreaterThan(0.12);
    } finally {
      proxy?.kill('SIGTERM');
      await Promise.all(sinks.map((s) => s.close()));
    }
  }, 60_000);
});
