import type { Command } from 'commander';

/** Commands that load heavier modules (demo, queue mode) register here, imported on demand. */
export async function extraCommands(): Promise<((program: Command) => void)[]> {
  return [];
}
