#!/usr/bin/env node
// npm's `prepare`: runs on `npm install` / `npm ci` in a checkout and before `npm pack`. It builds
// dist/ with tsc. A production install of a checkout (`npm install --omit=dev`) lacks the type
// packages (dev dependencies), so then:
// - with TypeScript still there (valibot, under fauxqs, has it as an optional peer, which keeps
//   it in such a tree), src/ is compiled without type checks: the code was checked where it was
//   developed, and the output is the same;
// - else a dist/ built before is kept (e.g. `npm ci`, then `npm prune --omit=dev`);
// - else one line says how to build, instead of a compiler's error.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const resolves = (name) => {
  try {
    return require.resolve(name);
  } catch {
    return undefined;
  }
};

const { devDependencies = {} } = require('./package.json');
const types = Object.keys(devDependencies).filter((name) => name.startsWith('@types/'));
const missing = types.filter((name) => !resolves(`${name}/package.json`));
const compiler = resolves('typescript/bin/tsc');
const tsc = (config) =>
  spawnSync(process.execPath, [compiler, '-p', config], { cwd: root, stdio: 'inherit' }).status ?? 1;

if (compiler && missing.length === 0) process.exit(tsc('tsconfig.json'));
if (compiler) {
  console.error(`bulk-import: production install (no ${missing.join(', ')}): compiling src/ without type checks`);
  const dir = mkdtempSync(join(tmpdir(), 'bulk-import-build-'));
  const config = join(dir, 'tsconfig.json');
  const options = { noCheck: true, types: [], sourceMap: false };
  const extended = { extends: join(root, 'tsconfig.json'), compilerOptions: options, include: [join(root, 'src')] };
  writeFileSync(config, JSON.stringify(extended));
  const status = tsc(config);
  rmSync(dir, { recursive: true, force: true });
  process.exit(status);
}
if (existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  console.error('bulk-import: no TypeScript (a dev dependency), so dist/ is kept as built before');
  process.exit(0);
}
console.error(
  'bulk-import: dist/ is not built and TypeScript is a dev dependency: ' +
    'run `npm ci` once (it builds), then `npm prune --omit=dev` for a production tree',
);
process.exit(1);
