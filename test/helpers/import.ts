import { parseRunConfig, type RunFlags } from '../../src/cli/config.js';
import { runImport, type RunResult } from '../../src/index.js';

/** Runs an import through the library with flags as the CLI would take them. */
export async function importWith(flags: RunFlags, opts: { signal?: AbortSignal } = {}): Promise<RunResult> {
  const config = parseRunConfig({ progress: false, checkpoint: false, failed: false, ...flags }, {});
  return runImport(config, {
    signal: opts.signal ?? new AbortController().signal,
    hardSignal: new AbortController().signal,
  });
}

/** Factories over literals: n NDJSON rows with ids 1..n. */
export function makeRows(
  n: number,
  extra: (i: number) => Record<string, unknown> = (i) => ({ title: `row ${i}` }),
): string {
  let out = '';
  for (let i = 1; i <= n; i++) out += `${JSON.stringify({ id: i, ...extra(i) })}\n`;
  return out;
}

export function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}
