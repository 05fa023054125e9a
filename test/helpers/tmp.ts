import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temp folder removed on dispose: `await using dir = await tempDir()`. */
export async function tempDir(): Promise<
  { path: string; file(name: string, content?: string): Promise<string> } & AsyncDisposable
> {
  const path = await mkdtemp(join(tmpdir(), 'bulk-import-test-'));
  return {
    path,
    async file(name, content) {
      const p = join(path, name);
      if (content !== undefined) await writeFile(p, content);
      return p;
    },
    [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }),
  };
}
