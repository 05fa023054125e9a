import { CommanderError } from 'commander';
import { BulkImportError, type ErrorCode } from '../errors.js';
import type { StopReason } from '../pipeline.js';

/**
 * The only place that knows the numbers.
 *
 * | code | meaning                                                        |
 * | ---- | -------------------------------------------------------------- |
 * | 0    | every row delivered (or skipped by the transform)              |
 * | 1    | finished, but some rows of the job failed for good (this run   |
 * |      | or an earlier one: see the failed file; broken NDJSON lines    |
 * |      | too); also --max-failures tripped, or the source broke mid-run |
 * | 2    | usage or configuration: bad flag, unreachable database or API, |
 * |      | no such table/column, checkpoint of another job or damaged     |
 * | 130  | stopped by SIGINT (Ctrl-C), checkpoint written                  |
 * | 143  | stopped by SIGTERM, checkpoint written                          |
 */
export const EXIT = { ok: 0, rowsFailed: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/** How a command ended, as every command describes it; exitCodeFor() turns it into the number. */
export interface Outcome {
  /** The command could not run, or broke: a BulkImportError (its code decides), a CommanderError, or anything else. */
  readonly error?: unknown;
  /**
   * How the run stopped (run, replay of a file, the demo). When given, it alone says whether the
   * run was stopped; when not (forward, replay --queue), a received signal means it was.
   */
  readonly stoppedBy?: StopReason;
  /** The first stop signal the process received; SIGINT is assumed for a stop without one. */
  readonly signal?: NodeJS.Signals | undefined;
  /**
   * What was not delivered for good: the job's failed rows (all runs), rows failed again, rows
   * rejected, messages left on the queue. Any makes it 1.
   */
  readonly failed?: number;
  /** A child bulk-import's exit code (the demo), already decided by this table there: passed on. */
  readonly childExit?: number;
}

const BY_CODE: Record<ErrorCode, number> = {
  USAGE: EXIT.usage,
  CONFIG: EXIT.usage,
  SOURCE_UNREACHABLE: EXIT.usage,
  NO_SUCH_TABLE: EXIT.usage,
  NO_SUCH_COLUMN: EXIT.usage,
  TARGET_UNREACHABLE: EXIT.usage,
  TARGET_REFUSED: EXIT.usage,
  CHECKPOINT_MISMATCH: EXIT.usage,
  CHECKPOINT_UNREADABLE: EXIT.usage,
  SOURCE_FAILED: EXIT.rowsFailed,
  // A stop is a stop wherever it lands; SIGTERM's 143 needs the signal, which the command passes.
  STOPPED: EXIT.sigint,
};

export function exitCodeFor(o: Outcome): number {
  if (o.error !== undefined) {
    const stopped = o.error instanceof BulkImportError && o.error.code === 'STOPPED';
    return stopped && o.signal === 'SIGTERM' ? EXIT.sigterm : errorCode(o.error);
  }
  const stopped =
    o.stoppedBy !== undefined ? o.stoppedBy === 'interrupted' || o.stoppedBy === 'aborted' : o.signal !== undefined;
  if (stopped) return o.signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
  if (o.childExit !== undefined) return o.childExit;
  if (o.stoppedBy === 'too-many-failures' || (o.failed ?? 0) > 0) return EXIT.rowsFailed;
  return EXIT.ok;
}

function errorCode(err: unknown): number {
  // Commander ends --help and --version through an error too, with its own exit code 0.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  return err instanceof BulkImportError ? BY_CODE[err.code] : EXIT.rowsFailed;
}
