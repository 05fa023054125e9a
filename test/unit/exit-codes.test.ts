import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, type Outcome } from '../../src/cli/exit-codes.js';
import { BulkImportError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('exitCodeFor: the one table from outcome to exit code', () => {
  const table: [string, Outcome, number][] = [
    ['run completed, nothing failed', { stoppedBy: 'completed', failed: 0 }, 0],
    ['run completed, rows of the job failed', { stoppedBy: 'completed', failed: 3 }, 1],
    ['--max-failures tripped', { stoppedBy: 'too-many-failures', failed: 0 }, 1],
    ['run interrupted by SIGINT', { stoppedBy: 'interrupted', signal: 'SIGINT', failed: 5 }, 130],
    ['run interrupted by SIGTERM', { stoppedBy: 'interrupted', signal: 'SIGTERM' }, 143],
    ['run aborted by a second SIGTERM', { stoppedBy: 'aborted', signal: 'SIGTERM' }, 143],
    ['a stop without a known signal counts as Ctrl-C', { stoppedBy: 'interrupted' }, 130],
    ['a signal after the run completed keeps its failures', { stoppedBy: 'completed', signal: 'SIGINT', failed: 1 }, 1],
    ['a signal after the run completed cleanly', { stoppedBy: 'completed', signal: 'SIGTERM' }, 0],
    ['forward / replay --queue stopped by SIGTERM', { signal: 'SIGTERM', failed: 2 }, 143],
    ['forward / replay --queue, rows not delivered', { failed: 2 }, 1],
    ['forward / replay --queue, all settled', { failed: 0 }, 0],
    ['the demo: a child run failed with usage', { stoppedBy: 'completed', childExit: 2 }, 2],
    ['the demo: stopped by Ctrl-C', { stoppedBy: 'interrupted', signal: 'SIGINT', childExit: 0 }, 130],
    ['the demo: --serve ended by its Ctrl-C', { stoppedBy: 'completed', signal: 'SIGINT' }, 0],
    ['usage error', { error: new BulkImportError('USAGE', 'bad flag') }, 2],
    ['unreachable API', { error: new BulkImportError('TARGET_UNREACHABLE', 'x') }, 2],
    ['endpoint refused', { error: new BulkImportError('TARGET_REFUSED', 'x') }, 2],
    ['damaged checkpoint', { error: new BulkImportError('CHECKPOINT_UNREADABLE', 'x') }, 2],
    ['the source broke mid-run', { error: new BulkImportError('SOURCE_FAILED', 'x') }, 1],
    ['an unexpected error', { error: new TypeError('boom') }, 1],
    [
      'stopped before anything was read, by Ctrl-C',
      { error: new BulkImportError('STOPPED', 'x'), signal: 'SIGINT' },
      130,
    ],
    [
      'stopped before anything was read, by SIGTERM',
      { error: new BulkImportError('STOPPED', 'x'), signal: 'SIGTERM' },
      143,
    ],
    ['an error wins over a signal', { error: new BulkImportError('CONFIG', 'x'), signal: 'SIGINT' }, 2],
    ['commander refused a flag', { error: new CommanderError(1, 'commander.unknownOption', 'x') }, 2],
    ['commander printed --help', { error: new CommanderError(0, 'commander.helpDisplayed', '') }, 0],
  ];
  it.each(table)('%s', (_what, outcome, code) => {
    expect(exitCodeFor(outcome)).toBe(code);
  });

  it('is the only place a code is decided: process.exitCode is set through it, no literal is returned', async () => {
    const entries = await readdir(join(root, 'src'), { withFileTypes: true, recursive: true });
    const files = entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
    const offenders: string[] = [];
    for (const file of files) {
      const name = relative(root, file);
      if (name === 'src/cli/exit-codes.ts') continue;
      const text = await readFile(file, 'utf8');
      const set = /process\.exitCode\s*=(?!\s*exitCodeFor\()[^;\n]*/g;
      const literal = /\b(?:return|exit\()\s*(?:130|143)\b|\bEXIT\.\w+/g;
      for (const m of [...text.matchAll(set), ...text.matchAll(literal)]) offenders.push(`${name}: ${m[0]}`);
    }
    expect(offenders).toEqual([]);
  });
});
