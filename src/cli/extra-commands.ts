import type { Command } from 'commander';

/** Commands that load heavier modules (demo, queue mode) register here, imported on demand. */
export async function extraCommands(): Promise<((program: Command) => void)[]> {
  // Both modules keep the AWS SDK out of their top level: it loads when their action runs.
  const [{ registerForward }, { registerQueueStatus }] = await Promise.all([
    import('./forward-command.js'),
    import('./queue-status-command.js'),
  ]);
  return [registerForward, registerQueueStatus];
}
