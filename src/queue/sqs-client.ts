import { SQSClient } from '@aws-sdk/client-sqs';
import { BulkImportError, errorCode, errorMessage } from '../errors.js';
import { classifyError } from '../http/retry-policy.js';
import type { SqsConnection } from './sqs-endpoint.js';

export type { SqsConnection } from './sqs-endpoint.js';

/**
 * One SQS client. The endpoint goes into the client's own config: otherwise the SDK sends each
 * call to the host in the queue URL, and emulators hand out hosts that do not resolve.
 * `maxAttempts: 1` when the caller retries itself (the sink backs off with its own policy).
 */
export function createSqsClient(c: SqsConnection, opts: { maxAttempts?: number } = {}): SQSClient {
  quietNodeVersionWarning();
  return new SQSClient({
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.placeholderCredentials
      ? { credentials: { accessKeyId: 'bulk-import', secretAccessKey: 'bulk-import' } }
      : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
  });
}

/**
 * The SDK warns on Node < 22 with a nine-line process warning, which would turn the CLI's
 * one-line errors into ten lines. It has an opt-out read when a client is built
 * (@aws-sdk/core emitWarningIfUnsupportedVersion); a user who sets it to anything keeps their choice.
 */
function quietNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export type SqsVerdict = 'retry' | 'fatal';

/** Throttling, server faults and socket failures are worth another try; the rest is a setup problem. */
export function classifySqsError(err: unknown): SqsVerdict {
  const e = err as { name?: string; $fault?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (e?.$retryable || e?.$fault === 'server' || (status !== undefined && (status >= 500 || status === 429)))
    return 'retry';
  if (
    typeof e?.name === 'string' &&
    /throttl|TooManyRequests|RequestTimeout|ServiceUnavailable|InternalError|TimeoutError/i.test(e.name)
  )
    return 'retry';
  return classifyError(errorCode(err)) === 'retry' ? 'retry' : 'fatal';
}

/** Wraps an SDK error where it enters, by its name (the SQS error code), into one line. */
export function sqsFailure(what: string, queueUrl: string, err: unknown): BulkImportError {
  const name = (err as { name?: string })?.name ?? '';
  const code = errorCode(err);
  if (/QueueDoesNotExist|NonExistentQueue/.test(name))
    return new BulkImportError('TARGET_UNREACHABLE', `${what}: queue ${queueUrl} does not exist`, { cause: err });
  if (
    /CredentialsProviderError|InvalidClientTokenId|UnrecognizedClient|SignatureDoesNotMatch|ExpiredToken/.test(name)
  ) {
    return new BulkImportError('CONFIG', `${what}: AWS credentials were refused or not found (${name})`, {
      cause: err,
    });
  }
  if (/AccessDenied/.test(name))
    return new BulkImportError('CONFIG', `${what}: access to ${queueUrl} denied (${name})`, { cause: err });
  const why = code ?? name ?? 'error';
  return new BulkImportError(
    'TARGET_UNREACHABLE',
    `${what}: SQS call failed (${why}: ${errorMessage(err).split('\n')[0]})`,
    { cause: err },
  );
}
