import { Command, CommanderError } from 'commander';
import { BulkImportError, errorMessage } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';
import { stopSignalReceived } from './signals.js';
import { registerRun } from './run-command.js';
import { registerReplay } from './replay-command.js';
import { registerStatus } from './status-command.js';
import { registerDemo } from './demo-command.js';
import { registerPlan } from './plan-command.js';
import { registerProbe } from './probe-command.js';
import { makeRedactor } from '../redact.js';
import { extraCommands } from './extra-commands.js';
import { secretArgs } from './argv-secrets.js';

/**
 * The one try/catch of the CLI: every failure becomes one line on stderr (no stack trace) and
 * an exit code from exit-codes.ts. Commands set process.exitCode themselves on success paths.
 */
export async function main(argv: string[]): Promise<void> {
  // `bulk-import … | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  // Commander echoes what it refused (`unknown option '--form=postgres://app:pw@…'`): mask it too.
  const redact = makeRedactor(secretArgs(argv));
  const program = new Command('bulk-import')
    .description(
      'Move a large PostgreSQL table (or NDJSON) into a service through its HTTP API: fast, resumable, sticky to load-balancer targets.',
    )
    .version(await version(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(oneLine(redact(s))) });
  registerRun(program);
  registerReplay(program);
  registerStatus(program);
  registerPlan(program);
  registerProbe(program);
  registerDemo(program);
  for (const register of await extraCommands()) register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) {
      const prefix = err instanceof BulkImportError ? 'bulk-import' : 'bulk-import: unexpected error';
      process.stderr.write(`${prefix}: ${redact(errorMessage(err)).split('\n')[0]}\n`);
    }
    process.exitCode = exitCodeFor({ error: err, signal: stopSignalReceived() });
  }
  // Never hang at 2 a.m. on a handle someone forgot to close: the work is done, leave.
  setTimeout(() => process.exit(), 3000).unref();
}

function oneLine(s: string): string {
  const text = s.trim().replace(/\s*\n\s*/g, ' ');
  return text ? `${text}\n` : '';
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
