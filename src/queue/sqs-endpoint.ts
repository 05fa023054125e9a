import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usage } from '../errors.js';

/*
 * Resolving where SQS is, without loading the AWS SDK: commands check their flags with this
 * before anything heavy is imported.
 */

/** Where and how to reach SQS, resolved once at the edge from flags and environment. */
export interface SqsConnection {
  /** An explicit endpoint (an emulator, a VPC endpoint), or undefined for the AWS default. */
  readonly endpoint?: string;
  readonly region: string;
  /**
   * Emulators accept any signature; with an endpoint and no credentials configured anywhere we
   * sign with placeholders instead of letting the chain probe instance metadata for seconds.
   */
  readonly placeholderCredentials: boolean;
}

/** `--queue` and `--sqs-endpoint` (else AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL) → a connection. */
export function resolveSqsConnection(
  queueUrl: string,
  endpointFlag: string | undefined,
  env: NodeJS.ProcessEnv,
): SqsConnection {
  const raw = endpointFlag ?? env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  const endpoint =
    raw === undefined || raw === ''
      ? undefined
      : checkUrl(endpointFlag !== undefined ? '--sqs-endpoint' : 'AWS_ENDPOINT_URL(_SQS)', raw);
  // The queue's own region is what SigV4 must sign for; the environment only fills in when the
  // URL does not say (an emulator on 127.0.0.1).
  const region = regionOfQueueUrl(queueUrl) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    ...(endpoint ? { endpoint } : {}),
    region,
    placeholderCredentials: endpoint !== undefined && !credentialsConfigured(env),
  };
}

/** Checks `--queue`: an http(s) SQS queue URL; FIFO queues are refused (ordering buys nothing here). */
export function checkQueueUrl(flag: string, raw: string | undefined): string {
  if (!raw) throw usage(`${flag} is required: the SQS queue URL`);
  const url = checkUrl(flag, raw);
  if (!/\/[^/]+\/[^/]+\/?$/.test(new URL(url).pathname))
    throw usage(
      `${flag} must be a queue URL like https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (got ${JSON.stringify(raw)})`,
    );
  if (url.replace(/\/$/, '').endsWith('.fifo'))
    throw usage(`${flag}: FIFO queues are not supported (got ${JSON.stringify(raw)}); use a standard queue`);
  return raw;
}

function checkUrl(flag: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usage(`${flag} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw usage(`${flag} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  return raw;
}

/** `sqs.eu-west-1.amazonaws.com`, `eu-west-1.queue.amazonaws.com`, `sqs.us-east-1.localhost` → the region. */
export function regionOfQueueUrl(raw: string): string | undefined {
  let host: string;
  try {
    host = new URL(raw).hostname;
  } catch {
    return undefined;
  }
  const m =
    /^sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d+)\./.exec(host) ??
    /^([a-z]{2}(?:-[a-z]+)+-\d+)\.queue\.amazonaws\.com/.exec(host);
  if (m) return m[1];
  return host === 'queue.amazonaws.com' ? 'us-east-1' : undefined;
}

function credentialsConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) return true;
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return true;
  const files = [
    env.AWS_SHARED_CREDENTIALS_FILE ?? join(homedir(), '.aws', 'credentials'),
    env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'),
  ];
  return files.some((f) => existsSync(f));
}
