import { errorMessage } from '../errors.js';
import { parseForwarderEnv } from './config.js';
import { createForwarder, type Forwarder } from './forwarder.js';
import type { LambdaContext, SqsBatchResponse, SqsEvent } from './sqs-event.js';

/**
 * The Lambda entry point (bundled to dist/lambda/forwarder.mjs, handler `forwarder.handler`).
 *
 * The forwarder lives at module scope, so its keep-alive connections and its cookie jars
 * survive from one invocation to the next in the same container: the second batch a container
 * handles goes to the target the balancer pinned it to with the first. Configuration and secret
 * headers are read once per container, on the first invocation.
 */
let forwarder: Promise<Forwarder> | undefined;

const log = (line: string) => console.log(line);

export async function handler(event: SqsEvent, context: LambdaContext): Promise<SqsBatchResponse> {
  forwarder ??= start();
  const f = await forwarder;
  return f.handle(event, context);
}

function start(): Promise<Forwarder> {
  const ready = (async () => createForwarder(parseForwarderEnv(process.env), log, process.env.AWS_REGION))();
  // A failed start (a secret not readable yet) is retried by the next invocation, not cached.
  ready.catch((err: unknown) => {
    forwarder = undefined;
    console.log(JSON.stringify({ level: 'error', event: 'forwarder_start_failed', error: errorMessage(err) }));
  });
  return ready;
}
