import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

/** Module specifiers a file imports, statically (`import … from`, `export … from`) or dynamically. */
async function imports(file: string): Promise<{ statics: string[]; dynamics: string[] }> {
  const text = await readFile(join(root, file), 'utf8');
  const statics = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
  const dynamics = [...text.matchAll(/\bimport\('([^']+)'\)/g)].map((m) => m[1]);
  return { statics, dynamics };
}

describe('what goes where', () => {
  it('the demo and its sandbox are loaded by the demo command only, and on demand', async () => {
    const reaching: string[] = [];
    for (const file of await tsFiles('src')) {
      if (file.startsWith('src/demo/')) continue;
      const { statics, dynamics } = await imports(file);
      for (const spec of statics) if (/\/demo\//.test(spec)) reaching.push(`${file} imports ${spec}`);
      for (const spec of dynamics) if (/\/demo\//.test(spec)) reaching.push(`${file} loads ${spec}`);
    }
    expect(reaching).toEqual(['src/cli/demo-command.ts loads ../demo/run-demo.js']);
  });

  it('the SQS emulator is loaded lazily, by the sandbox only', async () => {
    const users: string[] = [];
    for (const file of await tsFiles('src')) {
      const { statics, dynamics } = await imports(file);
      if (statics.includes('fauxqs')) users.push(`${file} imports fauxqs`);
      if (dynamics.includes('fauxqs')) users.push(`${file} loads fauxqs`);
    }
    expect(users).toEqual(['src/demo/sandbox/local-sqs.ts loads fauxqs']);
  });

  it('tests that spawn the CLI live under test/e2e', async () => {
    const spawning: string[] = [];
    for (const file of [...(await tsFiles('test/unit')), ...(await tsFiles('test/integration'))]) {
      const { statics } = await imports(file);
      if (statics.some((s) => s === '../helpers/cli.js' || s === 'node:child_process')) spawning.push(file);
    }
    expect(spawning).toEqual([]);
  });
});
