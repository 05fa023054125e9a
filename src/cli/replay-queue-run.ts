import { FailedFileWriter } from '../checkpoint/failed-file.js';
import type { ForwarderConfig } from '../lambda/config.js';
import { Forwarder } from '../lambda/forwarder.js';
import type { SendRejects } from '../queue/rejects.js';
import { replayQueue } from '../queue/replay-queue.js';
import { createSqsClient, type SqsConnection } from '../queue/sqs-client.js';
import { makeRedactor, secretsOf } from '../redact.js';
import { EXIT, exitCodeForSignal } from './exit-codes.js';
import { trapStopSignals } from './signals.js';

export interface ReplayQueueConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly failed: string;
  readonly forwarder: ForwarderConfig;
}

/** A received message stays hidden this long: the time one message's rows have to go out. */
const VISIBILITY_SECONDS = 300;

/**
 * `replay --queue` at work: one pass over the queue, rows refused again to the failed file.
 * Prints one summary line; exit 0 when every message was settled and no row failed again.
 */
export async function runReplayQueue(c: ReplayQueueConfig): Promise<void> {
  const started = Date.now();
  const redact = makeRedactor(secretsOf([c.forwarder.target.url], c.forwarder.target.headers));
  const file = new FailedFileWriter(c.failed, redact);
  // Written and synced before the message is deleted: a row leaves the queue only for the disk.
  const rejects: SendRejects = async (_job, rows) => {
    await file.write(rows);
    await file.sync();
  };
  const forwarder = new Forwarder(c.forwarder, (line) => process.stderr.write(`${line}\n`), { rejects, rejectsTo: c.failed });
  const sqs = createSqsClient(c.connection);
  const stop = trapStopSignals((sig) => process.stderr.write(`${sig}: stopping: no new receives, finishing the messages in hand…\n`));
  try {
    const r = await replayQueue({
      sqs,
      queueUrl: c.queueUrl,
      forwarder,
      visibilitySeconds: VISIBILITY_SECONDS,
      stop: stop.signal,
      hard: stop.hardSignal,
    });
    const t = forwarder.totals;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `replay: ${r.received} messages (${r.deleted} deleted, ${r.kept} left on the queue), ${t.delivered} rows delivered, ` +
        `${file.count} failed again → ${c.failed}, in ${secs} s\n`,
    );
    process.exitCode = stop.received() ? exitCodeForSignal(stop.received()) : r.kept > 0 || file.count > 0 ? EXIT.rowsFailed : EXIT.ok;
  } finally {
    stop.dispose();
    sqs.destroy();
    await Promise.all([forwarder.close(), file.close()]);
  }
}
