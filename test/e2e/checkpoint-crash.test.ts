import { readFile, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const WRITER = fileURLToPath(new URL('../../dist/src/checkpoint/atomic-write.js', import.meta.url));

/** A child that rewrites a large checkpoint as fast as it can, each version self-checking. */
const atomicWriter = (path: string) => `
  const { writeFileAtomic } = await import(${JSON.stringify(WRITER)});
  const pad = 'x'.repeat(200_000);
  for (let i = 0; ; i++) await writeFileAtomic(${JSON.stringify(path)}, JSON.stringify({ i, pad, end: i }));
`;

/**
 * The same rewritten in place, in pieces as a streaming writer does: the control that shows the
 * harness can catch a torn file (one `writeFile` of the whole text is partial only between its
 * truncate and its single write, a narrow target for a kill).
 */
const plainWriter = (path: string) => `
  const { open } = await import('node:fs/promises');
  const pad = 'x'.repeat(200_000);
  for (let i = 0; ; i++) {
    const text = JSON.stringify({ i, pad, end: i });
    const file = await open(${JSON.stringify(path)}, 'w');
    for (let at = 0; at < text.length; at += 16_384) await file.write(text.slice(at, at + 16_384));
    await file.close();
  }
`;

/** Kills the writer at random instants; how many of `rounds` kills left a file that is not a whole version. */
async function tornAfterKills(script: string, path: string, rounds: number, stopAtFirst = false): Promise<number> {
  let torn = 0;
  for (let round = 0; round < rounds; round++) {
    // The file of the round before would pass for writes under way: every round after the first
    // was then killed while node was still starting (on a slow host, most of the 0–120 ms below),
    // and read back what the first round had left.
    await rm(path, { force: true });
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    // Kill at a random instant once writes are under way (a loaded machine starts node slowly).
    for (const end = Date.now() + 10_000; Date.now() < end; await sleep(10)) {
      if (
        await readFile(path, 'utf8').then(
          () => true,
          () => false,
        )
      )
        break;
    }
    await sleep(Math.random() * 120);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8'));
      if (parsed.end !== parsed.i || parsed.pad.length !== 200_000) torn++;
    } catch {
      torn++;
    }
    if (stopAtFirst && torn > 0) break;
  }
  return torn;
}

describe('checkpoint writer crash consistency', () => {
  it('a kill -9 during writes always leaves a whole checkpoint, old or new', async () => {
    await using dir = await tempDir();
    expect(await tornAfterKills(atomicWriter(`${dir.path}/c.ckpt.json`), `${dir.path}/c.ckpt.json`, 15)).toBe(0);
  });

  it('(control) the same kills do leave torn files when a writer rewrites in place', async () => {
    await using dir = await tempDir();
    expect(await tornAfterKills(plainWriter(`${dir.path}/p.json`), `${dir.path}/p.json`, 40, true)).toBeGreaterThan(0);
  });
});
