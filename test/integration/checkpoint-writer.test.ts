import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CheckpointWriter, type Checkpoint } from '../../src/checkpoint/checkpoint-file.js';
import { tempDir } from '../helpers/tmp.js';

const state = (n: number): Checkpoint => ({
  version: 1,
  jobId: 'j',
  job: { source: 's', key: ['id'], target: 't', batchSize: 1 },
  watermark: [String(n)],
  rows: { read: n, delivered: n, failed: 0, skipped: 0 },
  complete: false,
  runs: 1,
  startedAt: 'x',
  updatedAt: 'y',
});

describe('checkpoint writer', () => {
  it('never runs two writes at once, even when a write is slower than the interval, and flush writes the newest', async () => {
    await using dir = await tempDir();
    let running = 0;
    let overlapped = false;
    let writes = 0;
    const slowSync = async () => {
      running++;
      if (running > 1) overlapped = true;
      await sleep(150);
      running--;
      writes++;
    };
    const path = `${dir.path}/c.ckpt.json`;
    const writer = new CheckpointWriter(path, slowSync, 20);
    for (let n = 1; n <= 40; n++) {
      writer.update(() => state(n));
      await sleep(10);
    }
    await writer.flush();
    expect(overlapped).toBe(false);
    expect(writes).toBeGreaterThan(1);
    expect(writes).toBeLessThan(10);
    expect(JSON.parse(await readFile(path, 'utf8')).watermark).toEqual(['40']);
  });
});
