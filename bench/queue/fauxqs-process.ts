import { DeleteQueueCommand, PurgeQueueCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { startLocalSqs } from '../../src/demo/sandbox/local-sqs.js';

/**
 * The SQS emulator for the queue bench, in its own process (forked with an IPC channel), so
 * its CPU and memory are not the contenders' and it gets a core of its own to compete for, as
 * a remote SQS would not. It announces its endpoint, then answers requests from the bench:
 *
 *   { id, op: 'create', name }              → { id, url }           a fresh queue for one run
 *   { id, op: 'settle', url, messages }     → { id, settled }       check, measure, purge, delete
 *   { id, op: 'usage' }                     → { id, cpuMicros, rssMB }
 *
 * It exits when the channel closes (the bench ended, whichever way).
 */
export type FauxqsRequest =
  | { id: number; op: 'create'; name: string }
  | { id: number; op: 'settle'; url: string; messages: number; timeoutMs: number }
  | { id: number; op: 'usage' };

/** What a run left in its queue, read back before the queue is purged and deleted. */
export interface Settled {
  /** ApproximateNumberOfMessages (+ not visible, + delayed) right after the run. */
  readonly depth: number;
  /** Messages read back by draining the queue. */
  readonly received: number;
  /** Rows in those messages, counted from each body's "rows" array. */
  readonly rows: number;
  /** Σ body + attributes (name + type + value) in UTF-8 bytes: SQS's own measure of a message. */
  readonly payloadBytes: number;
  readonly largestMessage: number;
  readonly drainMs: number;
  readonly problems: string[];
}

const sqsLocal = await startLocalSqs();
const { sqs } = sqsLocal;
process.stdout.write(`fauxqs at ${sqsLocal.endpoint}\n`);
process.send?.({ endpoint: sqsLocal.endpoint });

process.on('message', (req: FauxqsRequest) => {
  void answer(req).then(
    (body) => process.send?.({ id: req.id, ...body }),
    (err: unknown) => process.send?.({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.once('disconnect', () => {
  void sqsLocal.close().finally(() => process.exit(0));
});

async function answer(req: FauxqsRequest): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'create':
      return { url: (await sqsLocal.createQueue(req.name)).url };
    case 'settle':
      return { settled: await settle(req.url, req.messages, req.timeoutMs) };
    case 'usage': {
      const cpu = process.cpuUsage();
      return { cpuMicros: cpu.user + cpu.system, rssMB: process.memoryUsage().rss / 2 ** 20 };
    }
  }
}

/**
 * Checks that every message sent is there (depth == messages), then drains the queue to count
 * rows and payload bytes from what actually arrived, then purges and deletes it, so a million
 * rows do not stay in this process's memory for the next run. Bounded by `timeoutMs` and by a
 * number of empty receives.
 */
async function settle(url: string, expected: number, timeoutMs: number): Promise<Settled> {
  const problems: string[] = [];
  const d = await sqsLocal.depth(url);
  const depth = d.visible + d.inFlight + d.delayed;
  if (depth !== expected) problems.push(`queue depth ${depth}, ${expected} messages sent`);
  const started = Date.now();
  const deadline = started + timeoutMs;
  let received = 0;
  let rows = 0;
  let payloadBytes = 0;
  let largestMessage = 0;
  let emptyInARow = 0;
  const take = (m: Message): void => {
    received++;
    const body = m.Body ?? '';
    let bytes = Buffer.byteLength(body, 'utf8');
    for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) {
      bytes += Buffer.byteLength(name) + Buffer.byteLength(a.DataType ?? '') + Buffer.byteLength(a.StringValue ?? '');
    }
    payloadBytes += bytes;
    largestMessage = Math.max(largestMessage, bytes);
    try {
      const parsed = JSON.parse(body) as { rows?: unknown };
      if (Array.isArray(parsed.rows)) rows += parsed.rows.length;
      else problems.length < 5 && problems.push(`message ${m.MessageId} has no rows array`);
    } catch {
      if (problems.length < 5) problems.push(`message ${m.MessageId} is not JSON`);
    }
  };
  // A few receivers at once; each loop ends on the deadline or once the queue answers empty.
  const receiver = async (): Promise<void> => {
    while (received < depth && emptyInARow < 3 && Date.now() < deadline) {
      const res = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 43_200,
          MessageAttributeNames: ['All'],
        }),
      );
      const got = res.Messages ?? [];
      emptyInARow = got.length === 0 ? emptyInARow + 1 : 0;
      for (const m of got) take(m);
    }
  };
  await Promise.all([receiver(), receiver(), receiver(), receiver()]);
  if (Date.now() >= deadline) problems.push(`drain timed out after ${timeoutMs} ms`);
  if (received !== expected) problems.push(`drained ${received} messages, ${expected} sent`);
  await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  (globalThis as { gc?: () => void }).gc?.();
  return { depth, received, rows, payloadBytes, largestMessage, drainMs: Date.now() - started, problems };
}
