import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RusageReport } from './rusage-reporter.js';

/** Everything the bench started and has not seen exit; killed on the way out, whatever the way. */
const live = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

export const REPORTER = fileURLToPath(new URL('./rusage-reporter.js', import.meta.url));

/** A scratch directory for rusage files and for anything a contender writes into its cwd. */
export const scratch = mkdtempSync(join(tmpdir(), 'bulk-import-bench-'));
export function removeScratch(): void {
  rmSync(scratch, { recursive: true, force: true });
}

export interface ChildRun {
  readonly wallMs: number;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly rusage: RusageReport | null;
  readonly stdout: string;
  /** The last lines of stderr, for a failure message. */
  readonly stderrTail: string;
}

let runs = 0;

/**
 * Runs `node <nodeArgs> --import rusage-reporter.js <script> <args>` and times it from spawn to
 * exit: what a user waits for, start-up and connecting included. Killed past `timeoutMs`.
 */
export async function runMeasured(
  nodeArgs: readonly string[],
  script: string,
  args: readonly string[],
  timeoutMs: number,
  /** Added to the environment: bulk-import's shebang sets some (shebangEnv), and so must its runs here. */
  env: Readonly<Record<string, string>> = {},
): Promise<ChildRun> {
  const rusageFile = join(scratch, `rusage-${++runs}.json`);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeArgs, '--import', REPORTER, script, ...args], {
    cwd: scratch, // bulk-import's failed-rows file, if any, lands here and not in the checkout
    env: { ...process.env, ...env, BENCH_RUSAGE_FILE: rusageFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  // Bounded: a contender that logs per row must not grow the bench's memory.
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    if (stdout.length < 1_000_000) stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [exitCode, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  let rusage: RusageReport | null = null;
  try {
    rusage = JSON.parse(readFileSync(rusageFile, 'utf8')) as RusageReport;
    rmSync(rusageFile);
  } catch {
    rusage = null; // killed before its exit handler ran; the caller reports the run as failed
  }
  return { wallMs, exitCode, signal, rusage, stdout, stderrTail: stderr.trim().split('\n').slice(-3).join(' | ') };
}
