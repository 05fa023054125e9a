import { spawn } from 'node:child_process';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedListings } from '../../src/demo/sandbox/seed.js';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { range } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The package as a user's script sees it: `import … from 'bulk-import'`, resolved by Node through
 * package.json `exports` to the built dist/ (a package may import itself by name). The scripts
 * live inside the package folder for that reason, and run in a child process, not under vitest.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const ROWS = 1500;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;
let table: string;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  table = schema.qualified('listings');
  await withClient(db.url, (client) => seedListings(client, { table, rows: ROWS }));
});

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

/** Writes `code` as an .mjs file inside the package, runs it with node in `cwd`, removes it. */
async function runScript(
  code: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(root, 'test', `.library-script-${process.pid}-${Date.now()}.mjs`);
  await writeFile(file, code);
  try {
    return await new Promise((resolve) => {
      const child = spawn(process.execPath, [file], { cwd, env: { PATH: process.env.PATH, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, stdout, stderr });
      });
    });
  } finally {
    await rm(file, { force: true });
  }
}

/** The first ```js block of the README's "Use it from code" section. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Use it from code'));
  const m = /```js\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README has no js example under "Use it from code"');
  return m[1] as string;
}

describe("the library, imported by name ('bulk-import')", () => {
  it("resolves through package.json exports to dist, and importConfig's checks name the option", async () => {
    await using dir = await tempDir();
    const script = `
      import { BulkImportError, importConfig } from 'bulk-import';
      console.log(import.meta.resolve('bulk-import'));
      try {
        importConfig({ from: 'rows.ndjson', to: 'http://127.0.0.1:1/x', concurrency: 0 });
      } catch (err) {
        console.log(err instanceof BulkImportError, err.code, err.message);
      }`;
    const r = await runScript(script, dir.path, {});
    expect(r.stderr).toBe('');
    const [resolved, error] = r.stdout.trim().split('\n');
    expect(fileURLToPath(resolved as string)).toBe(join(root, 'dist', 'src', 'index.js'));
    expect(error).toBe('true USAGE concurrency must be a whole number from 1 to 1024 (got "0")');
  });

  it("runs the README's example against PostgreSQL and a recording API: every row once, checkpoint written", async () => {
    await access(join(root, 'dist', 'src', 'index.js')); // built by `npm test`'s pretest
    await using sink = await startHttpSink();
    await using dir = await tempDir();
    const env = { DATABASE_URL: db.url, TABLE: table, API_URL: `${sink.url}/listings`, API_TOKEN: 'secret-token-1234' };
    const r = await runScript(await readmeExample(), dir.path, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`completed: ${ROWS} delivered, 0 failed, 0 skipped`);
    expect(new Set(sink.acceptedIds())).toEqual(new Set(range(1, ROWS)));
    expect(sink.acceptedIds()).toHaveLength(ROWS);
    expect(sink.requests[0]?.headers.authorization).toBe('Bearer secret-token-1234');
    const ckpt = JSON.parse(await readFile(join(dir.path, 'listings.ckpt.json'), 'utf8')) as {
      complete: boolean;
      rows: { delivered: number };
    };
    expect(ckpt).toMatchObject({ complete: true, rows: { delivered: ROWS } });
  });
});
