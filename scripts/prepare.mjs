#!/usr/bin/env node
// npm's `prepare`: runs on `npm install` / `npm ci` in a checkout and before `npm pack`. It builds
// dist/ with tsc, a dev dependency. A production install (`npm install --omit=dev`) has no tsc:
// then a dist/ built earlier is kept (e.g. `npm ci` once, then `npm prune --omit=dev`), and a
// checkout never built is told how to build in one line, instead of npm's "tsc: not found".
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    console.error('bulk-import: TypeScript is not installed (production install): keeping the dist/ built before');
    process.exit(0);
  }
  console.error('bulk-import: dist/ is not built and TypeScript (a dev dependency) is not installed: '
    + 'run `npm ci` once (it builds), then `npm prune --omit=dev` for a production tree');
  process.exit(1);
}
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
