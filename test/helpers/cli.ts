import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/bulk-import.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The real binary as a child process, as a user runs it. Killed if it outlives `timeoutMs`. */
export function startCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): {
  child: ChildProcessWithoutNullStreams;
  done: (timeoutMs?: number) => Promise<CliResult>;
  output: () => { stdout: string; stderr: string };
} {
  const env = { ...process.env, ...opts.env };
  delete env.DATABASE_URL;
  if (opts.env?.DATABASE_URL) env.DATABASE_URL = opts.env.DATABASE_URL;
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: opts.cwd ?? process.cwd() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  if (opts.input !== undefined) child.stdin.end(opts.input);
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    output: () => ({ stdout, stderr }),
    done: async (timeoutMs = 60_000) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return startCli(args, opts).done(opts.timeoutMs);
}

/** One clear line and no stack trace: what every usage or config error must look like. */
export function expectOneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${stderr}`);
  if (/\n\s+at |Error:.*\n/.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
  return lines[0] as string;
}
