import { open, rename, unlink } from 'node:fs/promises';
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
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++writes}.tmp`);
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
