import { errorMessage } from '../errors.js';
import { makeRedactor, redactUrl, secretsOf } from '../redact.js';
import { parseForwarderEnv } from './config.js';
import { createForwarder, type Forwarder } from './forwarder.js';
import { LanesLog } from './lanes-report.js';
import type { ForwarderConfig } from '../config/forward-config.js';
import { RetryAfterBrake } from '../http/retry-after-brake.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from '../queue/sqs-event.js';

/**
 * The Lambda entry point (bundled to dist/lambda/forwarder.mjs, handler `forwarder.handler`).
 *
 * The forwarder lives at module scope, so its keep-alive connections and its cookie jars
 * survive from one invocation to the next in the same container: the second batch a container
 * handles goes to the target the balancer pinned it to with the first. Configuration and secret
 * headers are read once per container, on the first invocation.
 */
let forwarder: Promise<Forwarder> | undefined;
/**
 * The container's Retry-After hold, kept beside the forwarder: a Retry-After one request gets
 * holds every request of the container until it passes, at a fixed CONCURRENCY as under auto
 * (whose limiter holds them itself, so it gets none). Made once, with the first configuration read.
 */
let brake: RetryAfterBrake | undefined;

const log = (line: string) => console.log(line);
/** Lanes per target and the lanes re-placed, at most once a minute (lanes-report.ts). */
const lanesLog = new LanesLog();

export async function handler(event: SqsEvent, context: LambdaContext): Promise<SqsBatchResponse> {
  forwarder ??= start();
  const f = await forwarder;
  const answer = await f.handle(event, context);
  const lanes = lanesLog.after(f.client.placement(), f.totals.invocations, Date.now());
  if (lanes) log(lanes);
  return answer;
}

function start(): Promise<Forwarder> {
  const ready = (async () => {
    const config = parseForwarderEnv(process.env);
    return createForwarder(config, log, process.env, containerBrake(config));
  })();
  // A failed start (a secret not readable yet) is retried by the next invocation, not cached.
  ready.catch((err: unknown) => {
    forwarder = undefined;
    const redact = startupRedactor(process.env);
    const target = process.env.TARGET_URL;
    const line = {
      level: 'error',
      event: 'forwarder_start_failed',
      error: errorMessage(err),
      ...(target ? { target: redactUrl(target) } : {}),
    };
    console.log(redact(JSON.stringify(line)));
  });
  return ready;
}

function containerBrake(config: ForwarderConfig): RetryAfterBrake | undefined {
  if (config.autoConcurrency) return undefined;
  brake ??= new RetryAfterBrake(config.target.retry.maxRetryAfterMs);
  return brake;
}

/**
 * Masks what the environment holds before the configuration is known to be good: the secret
 * parts of TARGET_URL and REJECTS_QUEUE_URL, and header values that look secret (HEADER_<NAME>,
 * HEADERS), so an error that echoes any of them cannot leak it into the logs.
 */
function startupRedactor(env: NodeJS.ProcessEnv): (text: string) => string {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('HEADER_') && k !== 'HEADER_SECRETS' && v) headers[k.slice(7).replaceAll('_', '-')] = v;
  }
  try {
    const parsed: unknown = JSON.parse(env.HEADERS ?? '{}');
    if (parsed && typeof parsed === 'object') for (const [k, v] of Object.entries(parsed)) headers[k] = String(v);
  } catch {
    /* unreadable HEADERS: its error names no value */
  }
  const urls = [env.TARGET_URL, env.REJECTS_QUEUE_URL].filter((u): u is string => !!u);
  return makeRedactor(secretsOf(urls, headers));
}
