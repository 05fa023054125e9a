import cliProgress from 'cli-progress';
import type { Progress } from '../pipeline.js';

export interface ProgressView {
  update(p: Progress): void;
  stop(): void;
}

/**
 * A cli-progress bar on a terminal; on anything else (a log file, CI) a plain line every
 * 10 s, so an unattended run still shows it is alive without flooding the log.
 */
export function progressView(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!enabled) return { update: () => {}, stop: () => {} };
  if (!stream.isTTY) return plainLines(stream);
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        '{bar} {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted} | in flight {inFlight} | retries {retries} | failed {failed}',
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const done = p.delivered + p.failed + p.skipped;
      const inFlight = p.limit === undefined ? p.inFlight : `${p.inFlight} (limit ${p.limit})`;
      const payload = { rate: rate(done, p.elapsedMs), inFlight, retries: p.retries, failed: p.failed };
      const total = Math.max(p.total ?? 0, done);
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop: () => started && bar.stop(),
  };
}

function plainLines(stream: NodeJS.WriteStream): ProgressView {
  let last = Date.now();
  return {
    update(p) {
      if (Date.now() - last < 10_000) return;
      last = Date.now();
      const done = p.delivered + p.failed + p.skipped;
      const of = p.total ? `/${p.total}` : '';
      const limit = p.limit === undefined ? '' : ` (limit ${p.limit})`;
      stream.write(
        `progress: ${done}${of} rows, ${rate(done, p.elapsedMs)} rows/s, ${p.inFlight} in flight${limit}, ${p.retries} retries, ${p.failed} failed\n`,
      );
    },
    stop: () => {},
  };
}

function rate(done: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((done * 1000) / elapsedMs) : 0;
}
