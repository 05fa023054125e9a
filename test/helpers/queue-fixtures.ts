import { SqsSink } from '../../src/sink/sqs-sink.js';
import type { LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { LazyBatch, idempotencyKeyFor } from '../../src/source/batch.js';
import type { Batch } from '../../src/types.js';
import type { SqsRecord } from '../../src/queue/sqs-event.js';
import { envelopeAttributes, envelopeBody } from '../../src/queue/envelope.js';

/** A row of about `bytes` bytes of JSON with a numeric id. */
export function makeRow(id: number, bytes = 300): string {
  const head = `{"id":${id},"title":"listing ${id}","text":"`;
  return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
}

/** Batches as a source cuts them: `rows` rows in batches of `batchSize`, keys = ids. */
export async function* makeBatches(
  rows: number,
  batchSize: number,
  rowBytes = 300,
  job = 'test-job',
): AsyncGenerator<Batch> {
  let seq = 0;
  for (let first = 1; first <= rows; first += batchSize) {
    const ids = Array.from({ length: Math.min(batchSize, rows - first + 1) }, (_, i) => first + i);
    const firstKey = [String(ids[0])];
    const lastKey = [String(ids[ids.length - 1])];
    yield new LazyBatch(seq++, ids.length, firstKey, lastKey, idempotencyKeyFor(job, firstKey, lastKey), {
      json: `[${ids.map((id) => makeRow(id, rowBytes)).join(',')}]`,
    });
  }
}

/** Receives (and deletes) everything on a queue until it has been empty twice in a row. */
export async function drainQueue(sqs: SQSClient, url: string, maxRounds = 10_000): Promise<Message[]> {
  const out: Message[] = [];
  let empty = 0;
  for (let round = 0; round < maxRounds && empty < 2; round++) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const got = res.Messages ?? [];
    if (got.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    out.push(...got);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
  }
  return out;
}

/** The ids of the rows in messages' envelopes. */
export function idsIn(messages: readonly { Body?: string; body?: string }[]): number[] {
  return messages.flatMap((m) =>
    (JSON.parse((m.Body ?? m.body) as string) as { rows: { id: number }[] }).rows.map((r) => r.id),
  );
}

let nextMessage = 0;

/** An SQS record as Lambda's event source mapping delivers it, holding the given rows. */
export function sqsRecord(
  rows: readonly string[],
  opts: { job?: string; body?: string; messageId?: string; noAttributes?: boolean } = {},
): SqsRecord {
  const job = opts.job ?? 'test-job';
  const attributes = envelopeAttributes({ job, rows: rows.length, range: [['0'], ['0']] });
  const messageAttributes = Object.fromEntries(
    Object.entries(attributes).map(([k, v]) => [
      k,
      {
        stringValue: v.StringValue as string,
        stringListValues: [],
        binaryListValues: [],
        dataType: v.DataType as string,
      },
    ]),
  );
  const now = String(Date.now());
  // A hand-made event may lack messageAttributes: the type says it is there, Lambda's contract does not.
  return <SqsRecord>{
    messageId: opts.messageId ?? `m-${++nextMessage}`,
    receiptHandle: `rh-${nextMessage}`,
    body: opts.body ?? envelopeBody(job, rows),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: now,
      SenderId: 'AIDATEST',
      ApproximateFirstReceiveTimestamp: now,
    },
    ...(opts.noAttributes ? {} : { messageAttributes }),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test',
    awsRegion: 'us-east-1',
  };
}

/**
 * Enqueues rows 1..rows the way `run --queue` does (the real SqsSink), `perMessage` rows a
 * message, onto a queue of the local SQS emulator.
 */
export async function enqueueRows(
  sqs: Pick<LocalSqs, 'connection'>,
  queueUrl: string,
  rows: number,
  perMessage: number,
  job: string,
): Promise<void> {
  const sink = new SqsSink({
    queueUrl,
    connection: sqs.connection,
    job,
    messageBytes: 65_536,
    rowsPerMessage: perMessage,
    concurrency: 8,
    retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 100 },
  });
  const never = new AbortController().signal;
  try {
    for await (const _ of sink.deliver(makeBatches(rows, 100, 120), { signal: never, hardSignal: never })) void _;
  } finally {
    await sink.close();
  }
}
