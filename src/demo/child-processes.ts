import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Paths of the built entry points, resolved from this file (dist/src/demo/). */
export const BIN = fileURLToPath(new URL('../../../bin/bulk-import.js', import.meta.url));
const PG_CHILD = fileURLToPath(new URL('./embedded-postgres-child.js', import.meta.url));

/** Everything the demo starts, so one call stops it all, whatever path the demo leaves by. */
export class Children {
  readonly #all = new Set<ChildProcess>();

  track<T extends ChildProcess>(child: T): T {
    this.#all.add(child);
    child.on('exit', () => this.#all.delete(child));
    return child;
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.#all].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const force = setTimeout(() => c.kill('SIGKILL'), 3000);
            c.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }
}

export interface EmbeddedDatabase {
  url: string;
  seedMs: number;
}

/** Starts the embedded PostgreSQL child and waits for its ready line. */
export async function startDatabaseChild(children: Children, rows: number): Promise<EmbeddedDatabase> {
  const child = children.track(spawn(process.execPath, [PG_CHILD, String(rows)], { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as EmbeddedDatabase));
    child.once('exit', (code) =>
      reject(new Error(`embedded PostgreSQL exited (${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`)),
    );
  });
}

export interface ImportRun {
  code: number | null;
  stdout: string;
  elapsedMs: number;
}

/**
 * Runs the real `bulk-import <command>` as a user would, with the progress bar on this terminal.
 * The child gets the same V8 flag as the binary's shebang.
 */
export function runCliChild(
  children: Children,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ImportRun> {
  const started = Date.now();
  const child = children.track(
    spawn(process.execPath, ['--max-semi-space-size=2', BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env }),
  );
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, elapsedMs: Date.now() - started })),
  );
}
