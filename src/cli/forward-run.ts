import type { ForwardConfig } from '../config/forward-config.js';
import { placementLine } from '../http/lane-placement.js';
import { runForward, type ForwardResult } from '../index.js';
import { exitCodeFor } from './exit-codes.js';
import { trapStopSignals } from './signals.js';

/**
 * `forward` on a terminal: the library's runForward under the process's signals. Prints one
 * summary line; exit 0, 1 if the API refused rows for good, 130/143 when stopped by a signal.
 */
export async function forwardCommand(c: ForwardConfig): Promise<void> {
  const stop = trapStopSignals((sig) =>
    process.stderr.write(
      `${sig}: stopping: no new receives, finishing the messages in hand (${sig} again to abort them)…\n`,
    ),
  );
  try {
    const r = await runForward(c, { signal: stop.signal, hardSignal: stop.hardSignal });
    process.stdout.write(`${forwardSummary(r)}\n`);
    const failed = r.rejected + r.rejectedKept + r.endpointRefused;
    process.exitCode = exitCodeFor({ signal: stop.received(), failed });
  } finally {
    stop.dispose();
  }
}

export function forwardSummary(r: ForwardResult): string {
  const secs = r.elapsedMs / 1000;
  const a = r.adaptiveConcurrency;
  const ms = (v: number | undefined) => (v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
  // The same words as run's summary line, per poller (each poller is one "container").
  const auto = a
    ? `\n  concurrency auto (max ${a.max} per poller): limit min ${a.limitMin}, median ${a.limitMedian}, max ${a.limitMax}` +
      ` (${a.limitNow} in all at the end); API latency p50 ${ms(a.latencyP50Ms)}, p99 ${ms(a.latencyP99Ms)};` +
      ` ${a.backoffs} backoffs, ${a.brakes} Retry-After brakes`
    : '';
  // --sticky lane: as run's line, over all pollers (each poller's lanes on the targets it found);
  // the auto line stays last, where scripts read it.
  const placed = r.lanePlacement && r.lanes.length > 0 ? `\n${placementLine(r.lanePlacement)}` : '';
  return (
    `forward: ${r.received} messages (${r.deleted} deleted, ${r.received - r.deleted} left for redelivery), ` +
    `${r.delivered} rows delivered, ${r.rejected} rejected (to the rejects queue), ` +
    `${r.rejectedKept} rejected and kept on the queue, ` +
    `${r.endpointRefused} messages refused by the endpoint, ` +
    `${r.requests} requests ` +
    `in ${secs.toFixed(1)} s (${secs > 0 ? Math.round(r.delivered / secs) : 0} rows/s); ` +
    `${r.pollers} pollers, ${r.lanes.length} lanes, ${r.lanes.filter((l) => l.sticky).length} holding a sticky cookie` +
    placed +
    auto
  );
}
