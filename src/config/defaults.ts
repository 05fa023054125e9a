import type { StickyMode } from '../http/cookie-lanes.js';
import type { RetryPolicy } from '../http/retry-policy.js';

/**
 * Every default of bulk-import, in one place: the CLI's flags, the library's options and the
 * Lambda's environment all fall back to these, and deploy/template.yaml must agree with
 * FORWARDER_DEFAULTS (test/unit/template-defaults.test.ts checks it).
 */

/** Retries of HTTP sends and SQS sends: exponential backoff with full jitter. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 6,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

/** `run` (and the library's importConfig). */
export const IMPORT_DEFAULTS = {
  key: 'id',
  method: 'POST',
  batchSize: 100,
  concurrency: 16,
  /** `--concurrency auto`: the limiter starts here and never goes above --max-concurrency. */
  autoInitialConcurrency: 4,
  maxConcurrency: 256,
  sticky: 'lane' as StickyMode,
  retries: DEFAULT_RETRY_POLICY.retries,
  timeout: '30s',
  /**
   * `--sticky lane`: a lane asks the balancer for a target afresh after holding one this long, so
   * targets added or back since are found. Minutes: each move costs the API one new session.
   */
  restickAfter: '5m',
  pageRows: 2000,
  transformTimeout: '30s',
  /** NDJSON: a longer line is a failed row. */
  maxLineBytes: 16 * 1024 * 1024,
  statementTimeout: '5m',
  /** Subtracted from each catch-up horizon, for application clocks and clock_timestamp(). */
  catchUpOverlap: '1m',
  /**
   * The same for a bigint version column, in versions: a sequence with CACHE > 1 hands values out
   * of order across sessions, and a value is drawn an instant before its writer has a transaction id.
   */
  catchUpOverlapVersions: 1000,
  /** How long a version horizon waits for the transactions that have written to end. */
  catchUpWait: '1m',
} as const;

/** Queue mode of `run` (--queue). */
export const QUEUE_DEFAULTS = {
  /** SQS bills every 64 KiB of a request as one request: a full chunk per message is the floor. */
  messageBytes: 65_536,
} as const;

/** The forwarder: the Lambda function's environment, and `forward`'s HTTP flags. */
export const FORWARDER_DEFAULTS = {
  method: 'POST',
  batchSize: 100,
  concurrency: 8,
  /** `CONCURRENCY=auto` / `forward --concurrency auto`: each container's limiter starts here… */
  autoInitialConcurrency: 4,
  /** …and stays at or below this (MAX_CONCURRENCY, --max-concurrency), per container or poller. */
  maxConcurrency: 64,
  timeoutMs: 10_000,
  retries: 2,
  sticky: 'lane' as StickyMode,
  /** `--sticky lane`: as run's (RESTICK_AFTER, forward --restick-after); a container lives for hours. */
  restickAfter: IMPORT_DEFAULTS.restickAfter,
  /** Time kept back from the invocation's deadline to answer it. */
  safetyMs: 1500,
  /** A retry inside one invocation waits at most this long; SQS redelivery is the longer retry. */
  maxRetryDelayMs: 5000,
} as const;

/** `forward` (and the library's forwardConfig), beyond the forwarder's own. */
export const FORWARD_DEFAULTS = {
  pollers: 2,
  /** Same as the Lambda's TIMEOUT_MS, written as `forward --timeout` takes it. */
  timeout: `${FORWARDER_DEFAULTS.timeoutMs / 1000}s`,
} as const;

/** `replay --queue`. */
export const REPLAY_QUEUE_DEFAULTS = {
  /** A received message stays hidden this long: the time one message's rows have to go out. */
  visibilitySeconds: 300,
} as const;

/** `probe`: its bounds. It sweeps concurrency 1, 2, 4… up to maxConcurrency, per sticky mode. */
export const PROBE_DEFAULTS = {
  /** Real rows it may send in all. */
  rows: 20_000,
  maxConcurrency: 64,
  /** Each step (one concurrency, one sticky mode) runs at most this long. */
  stepTime: '5s',
  /** The whole probe. */
  maxTime: '2m',
  sticky: 'lane,off',
} as const;
