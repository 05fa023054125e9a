import { open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Replaces `path` with `content` so that a crash at any instant leaves either the old file or
 * the new one, never a torn mix: write a temp file beside it, fsync it, rename it over the old
 * one (atomic within a directory on POSIX), then fsync the directory so the rename itself
 * survives a power cut.
 */
let writes = 0;

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  // A name of its own per write: two writers (or a stale temp of a killed run) never share one.
  const tmp = join(dirname(path), `${tempPrefix(path)}${process.pid}.${++writes}.tmp`);
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(content, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

function tempPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/**
 * Removes temp files that writers of `path` left behind when killed mid-write. A temp file of a
 * process still alive (a run of the same job elsewhere on this machine) is left alone.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)\.\d+\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (!m || isAlive(Number(m[1]))) continue;
    await unlink(join(dirname(path), name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function syncDir(dir: string): Promise<void> {
  // Some file systems refuse to open or fsync a directory; the rename is then as durable as they allow.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* best effort */
  }
}
