import { startApiBackend, type SinkCounts } from '../src/demo/sandbox/api-backend.js';
import { startStickyBalancer } from '../src/demo/sandbox/sticky-balancer.js';

/**
 * The bench's HTTP sink, in its own process so the client under test is measured alone
 * (its CPU and RSS are not mixed with the server's). Run by sink-process.ts with an IPC channel:
 * it sends `{ url }` once listening, and answers `counts` with the counters and its own CPU time.
 *
 * argv[2] = 'alb' puts the sink behind the sticky-balancer simulator: every answer then sets
 * AWSALB and AWSALBCORS with a fresh Expires, as an AWS ALB does, so `--sticky lane` pays for its
 * cookie jar as it would in production. 'none' is the bare sink (no cookies at all).
 */
export interface SinkReport {
  readonly counts: SinkCounts;
  /** This process's user + system CPU so far, in microseconds. */
  readonly cpuMicros: number;
}

const front = process.argv[2] === 'none' ? 'none' : 'alb';
const server =
  front === 'alb'
    ? await startStickyBalancer({ backends: [{ record: 'count' }] })
    : await startApiBackend({ record: 'count' });
const sink = 'backends' in server ? server.backends[0] : server;

process.on('message', (msg: unknown) => {
  if (msg !== 'counts') return;
  const cpu = process.cpuUsage();
  const report: SinkReport = { counts: { ...sink.counts }, cpuMicros: cpu.user + cpu.system };
  process.send?.(report);
});
// The parent going away (even by kill -9) closes the channel: a sink must never outlive its bench.
process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
process.send?.({ url: server.url });
