#!/usr/bin/env node
// npm's `prepare`: runs on `npm install` / `npm ci` in a checkout and before `npm pack`. It builds
// dist/ with tsc, a dev dependency. A production install (`npm install --omit=dev`) lacks the build tools:
// then a dist/ built earlier is kept (e.g. `npm ci` once, then `npm prune --omit=dev`), and a
// checkout never built is told how to build in one line, instead of a compiler's error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const { devDependencies = {} } = require('./package.json');
// TypeScript alone is no sign of a dev install: an optional peer of fauxqs's valibot can pull it
// into an --omit=dev tree. The build needs the type packages too, and those come only with dev.
const toolchain = Object.keys(devDependencies).filter((name) => name === 'typescript' || name.startsWith('@types/'));
const missing = toolchain.filter((name) => {
  try {
    require.resolve(`${name}/package.json`);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  if (existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
    console.error(`bulk-import: no build tools (${missing.join(', ')}: dev dependencies), so dist/ is kept as built before`);
    process.exit(0);
  }
  console.error(`bulk-import: dist/ is not built and the build tools (${missing.join(', ')}) are dev dependencies: `
    + 'run `npm ci` once (it builds), then `npm prune --omit=dev` for a production tree');
  process.exit(1);
}
const tsc = require.resolve('typescript/bin/tsc');
const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
