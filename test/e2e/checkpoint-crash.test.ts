import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const WRITER = fileURLToPath(new URL('../../dist/src/checkpoint/atomic-write.js', import.meta.url));

describe('checkpoint writer crash consistency', () => {
  it('a kill -9 during writes always leaves a whole checkpoint, old or new', async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/c.ckpt.json`;
    // A child that rewrites a large checkpoint as fast as it can, each version self-checking.
    const script = `
      const { writeFileAtomic } = await import(${JSON.stringify(WRITER)});
      const pad = 'x'.repeat(200_000);
      for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(path)}, JSON.stringify({ i, pad, end: i }));
    `;
    let versions = 0;
    for (let round = 0; round < 15; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
      // Kill at a random instant once writes are under way (a loaded machine starts node slowly).
      for (const end = Date.now() + 10_000; Date.now() < end; await sleep(10)) {
        if (await readFile(path, 'utf8').then(() => true, () => false)) break;
      }
      await sleep(Math.random() * 120);
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const parsed = JSON.parse(await readFile(path, 'utf8'));
      expect(parsed.end).toBe(parsed.i);
      expect(parsed.pad).toHaveLength(200_000);
      versions++;
    }
    expect(versions).toBe(15);
  });
});
