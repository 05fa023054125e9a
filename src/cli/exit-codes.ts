import { BulkImportError, type ErrorCode } from '../errors.js';

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
};

export function exitCodeFor(err: unknown): number {
  return err instanceof BulkImportError ? BY_CODE[err.code] : EXIT.rowsFailed;
}

export function exitCodeForSignal(signal: NodeJS.Signals | undefined): number {
  return signal === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
}
