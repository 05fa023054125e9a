import { afterEach, expect, it, vi } from 'vitest';
import { progressView } from '../../src/cli/progress-bar.js';

afterEach(() => {
  vi.useRealTimers();
});

const p = { read: 10, delivered: 10, failed: 0, skipped: 0, total: 100, elapsedMs: 1000, inFlight: 12 };

it('the plain progress line shows the current limit under --concurrency auto, and nothing more without it', () => {
  vi.useFakeTimers({ now: 0 });
  const written: string[] = [];
  const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const view = progressView(true, stream);
  vi.setSystemTime(11_000);
  view.update({ ...p, requests: 1, retries: 0, targets: 0, limit: 14 });
  vi.setSystemTime(22_000);
  view.update({ ...p, requests: 1, retries: 0, targets: 0 });
  expect(written).toEqual([
    'progress: 10/100 rows, 10 rows/s, 12 in flight (limit 14), 0 retries, 0 failed\n',
    'progress: 10/100 rows, 10 rows/s, 12 in flight, 0 retries, 0 failed\n',
  ]);
});
