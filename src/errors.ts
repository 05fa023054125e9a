/**
 * Every failure that ends a run is a BulkImportError with a stable code. Foreign errors (pg,
 * undici, the AWS SDK, the file system) are wrapped where they enter, by their own codes, never
 * by message text. Only src/cli/exit-codes.ts turns codes into process exit codes.
 */
export type ErrorCode =
  | 'USAGE' // a bad flag or flag value
  | 'CONFIG' // flags are fine one by one but do not make a job
  | 'SOURCE_UNREACHABLE' // the database cannot be reached or refused the login
  | 'NO_SUCH_TABLE'
  | 'NO_SUCH_COLUMN'
  | 'SOURCE_FAILED' // the source broke mid-run (a query error, a lost connection)
  | 'TARGET_UNREACHABLE' // the API or queue cannot be reached at all
  | 'TARGET_REFUSED' // the API answers, but refuses the endpoint (401, 404…) or every row it is given
  | 'CHECKPOINT_MISMATCH'
  | 'CHECKPOINT_UNREADABLE'
  | 'STOPPED'; // a stop signal ended the command before it had anything to save

export class BulkImportError extends Error {
  override readonly name = 'BulkImportError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function usage(message: string): BulkImportError {
  return new BulkImportError('USAGE', message);
}

/** The `code` property node, pg and undici put on their errors, if any. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorMessage(err.errors[0]);
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
