import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILT = join(ROOT, 'dist', 'src');

/** Which code the figures belong to: the commit, and whether src/ differs from it. */
export function describeCode(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', 'src', 'bin') !== '';
    return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' plus uncommitted changes in src/ or bin/' : ''}`;
  } catch {
    return 'not a git checkout';
  }
}

/**
 * The newest mtime under dist/src. A checkout shared with someone who rebuilds while the bench
 * runs would otherwise mix two versions of the product into one table without a word.
 */
export function builtStamp(): number {
  let newest = 0;
  for (const entry of readdirSync(BUILT, { recursive: true, encoding: 'utf8' })) {
    newest = Math.max(newest, statSync(join(BUILT, entry)).mtimeMs);
  }
  return newest;
}
