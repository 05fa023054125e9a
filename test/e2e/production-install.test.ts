import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, readdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectOneLine } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * What a user gets from a production install (no dev dependencies): the demo and `demo --queue`
 * work, and without the emulator `demo --queue` says so in one line. Two installs:
 * - a checkout (`npm ci --omit=dev`: the `prepare` script builds without the type packages);
 * - the packed package installed globally (`npm install -g`: dist/ ships in the tarball).
 * npm reads its cache first (--prefer-offline), so after the project's own `npm ci` this needs
 * the registry little or not at all.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command with npm's own variables removed: a child npm must see only its own flags. */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The working tree as a fresh clone would have it (tracked and new files, nothing ignored). */
async function copyCheckout(to: string): Promise<void> {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    await mkdir(dirname(join(to, file)), { recursive: true });
    await cp(join(root, file), join(to, file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err; // deleted in the working tree, not yet committed
    });
  }
}

/** `demo --queue` works; with fauxqs moved away it is one line and exit 2, before anything starts. */
async function expectDemoQueue(bin: string[], cwd: string, modules: string): Promise<void> {
  const ok = await run(bin[0], [...bin.slice(1), 'demo', '--rows', '1000', '--queue'], cwd);
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout).toMatch(/arrived: 1,000 distinct listing ids at the API/);
  expect(ok.stdout).toMatch(/arrived: 1,000 distinct listing ids; messages left in the queue: 0/);
  await rename(join(modules, 'fauxqs'), join(modules, 'fauxqs-aside'));
  try {
    const missing = await run(bin[0], [...bin.slice(1), 'demo', '--rows', '100', '--queue'], cwd);
    expect(missing.code).toBe(2);
    const line = expectOneLine(missing.stderr);
    expect(line).toMatch(/^bulk-import: demo --queue needs the SQS emulator fauxqs, a dependency missing/);
    expect(missing.stdout).toBe('');
  } finally {
    await rename(join(modules, 'fauxqs-aside'), join(modules, 'fauxqs'));
  }
}

describe('a production install (npm --omit=dev)', () => {
  it('of a checkout builds without the dev dependencies and runs demo --queue', { timeout: 300_000 }, async () => {
    await using dir = await tempDir();
    const checkout = join(dir.path, 'bulk-import');
    await copyCheckout(checkout);
    const install = await run('npm', ['ci', '--omit=dev', ...NPM_QUIET], checkout);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr).toMatch(/production install \(no @types\/.*\): compiling src\/ without type checks/);
    const modules = join(checkout, 'node_modules');
    const installed = new Set(await readdir(modules));
    expect(['vitest', 'esbuild', '@types', 'autocannon'].filter((dev) => installed.has(dev))).toEqual([]);
    await expectDemoQueue(['npx', '--no', 'bulk-import'], checkout, modules);
  });

  it('of the packed package (npm install -g) runs demo --queue', { timeout: 300_000 }, async () => {
    await using dir = await tempDir();
    // dist/ as `npm test` just built it; the tarball is what `npm publish` would upload.
    const packArgs = ['pack', '--ignore-scripts', '--pack-destination', dir.path, '--loglevel=error'];
    const pack = await run('npm', packArgs, root);
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = join(dir.path, pack.stdout.trim().split('\n').at(-1) as string);
    const prefix = join(dir.path, 'global');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, ...NPM_QUIET, tarball], dir.path);
    expect(install.code, install.stderr).toBe(0);
    const modules = join(prefix, 'lib', 'node_modules', 'bulk-import', 'node_modules');
    const installed = new Set(await readdir(modules));
    expect(['typescript', 'vitest', 'esbuild', '@types'].filter((dev) => installed.has(dev))).toEqual([]);
    await expectDemoQueue([join(prefix, 'bin', 'bulk-import')], dir.path, modules);
  });
});
