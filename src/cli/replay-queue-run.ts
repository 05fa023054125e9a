import type { ReplayConfig } from '../config/replay-config.js';
import { replay } from '../index.js';
import { exitCodeFor } from './exit-codes.js';
import { trapStopSignals } from './signals.js';

/**
 * `replay --queue` on a terminal: the library's replay() under the process's signals. Prints one
 * summary line; exit 0 when every message was settled and no row failed again.
 */
export async function replayQueueCommand(config: Extract<ReplayConfig, { kind: 'queue' }>): Promise<void> {
  const stop = trapStopSignals((sig) =>
    process.stderr.write(`${sig}: stopping: no new receives, finishing the messages in hand…\n`),
  );
  try {
    const r = await replay(config, { signal: stop.signal, hardSignal: stop.hardSignal });
    if (r.kind !== 'queue') return;
    const secs = (r.elapsedMs / 1000).toFixed(1);
    process.stdout.write(
      `replay: ${r.received} messages (${r.deleted} deleted, ${r.kept} left on the queue), ${r.delivered} rows delivered, ` +
        `${r.failedAgain} failed again → ${r.failedPath}, in ${secs} s\n`,
    );
    process.exitCode = exitCodeFor({ signal: stop.received(), failed: r.kept + r.failedAgain });
  } finally {
    stop.dispose();
  }
}
