import type { AddressInfo } from 'node:net';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BulkImportError, errorCode } from '../../errors.js';
import { createSqsClient, type SqsConnection } from '../../queue/sqs-client.js';

let loading: Promise<typeof import('fauxqs')> | undefined;

/**
 * Loads the emulator on first use: run, forward, replay and the Lambda never load it (nor its
 * fastify and S3/SNS clients). If the install lacks it (a trimmed or broken node_modules), that
 * is one clear line, not a module stack.
 */
export function loadFauxqs(): Promise<typeof import('fauxqs')> {
  loading ??= import('fauxqs').catch((err: unknown) => {
    loading = undefined;
    if (errorCode(err) !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new BulkImportError(
      'CONFIG',
      'demo --queue needs the SQS emulator fauxqs, a dependency missing from this ' +
        'install: reinstall bulk-import, or run `npm install fauxqs` where it is installed',
      { cause: err },
    );
  });
  return loading;
}

/**
 * The SQS emulator fauxqs, listening on 127.0.0.1 only: its own startFauxqs
 * binds every interface. Queue URLs come back as http://sqs.<region>.localhost:<port>/…, a host
 * that need not resolve, just like fauxqs in Docker: whatever talks to it must use `endpoint`,
 * which is the point of --sqs-endpoint.
 */
export interface LocalSqs extends AsyncDisposable {
  /** http://127.0.0.1:<port>: pass as --sqs-endpoint / AWS_ENDPOINT_URL_SQS. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** What the CLI resolves for this endpoint (placeholder credentials). */
  readonly connection: SqsConnection;
  /** A client of the emulator for tests to look with. */
  readonly sqs: SQSClient;
  createQueue(name: string, attributes?: Record<string, string>): Promise<{ url: string; arn: string }>;
  /** A queue and a DLQ it redrives to after `maxReceiveCount` receives. */
  createQueueWithDlq(
    name: string,
    maxReceiveCount: number,
    attributes?: Record<string, string>,
  ): Promise<{ url: string; arn: string; dlqUrl: string; dlqArn: string }>;
  depth(url: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  close(): Promise<void>;
}

export async function startLocalSqs(opts: { region?: string } = {}): Promise<LocalSqs> {
  const region = opts.region ?? 'us-east-1';
  const { buildApp } = await loadFauxqs();
  const app = buildApp({ logger: false, host: 'localhost', defaultRegion: region });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const connection: SqsConnection = { endpoint, region, placeholderCredentials: true };
  const sqs = createSqsClient(connection);
  let closing: Promise<void> | undefined;
  // Long polls in progress would hold app.close(): fauxqs cancels its waiters in preClose.
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      sqs.destroy();
      await app.close();
    })());

  const createQueue = async (name: string, attributes: Record<string, string> = {}) => {
    const res = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = res.QueueUrl as string;
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    return { url, arn: attrs.Attributes?.QueueArn as string };
  };

  return {
    endpoint,
    port,
    region,
    connection,
    sqs,
    createQueue,
    async createQueueWithDlq(name, maxReceiveCount, attributes = {}) {
      const dlq = await createQueue(`${name}-dlq`);
      const redrive = JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: String(maxReceiveCount) });
      const q = await createQueue(name, { ...attributes, RedrivePolicy: redrive });
      return { ...q, dlqUrl: dlq.url, dlqArn: dlq.arn };
    },
    async depth(url) {
      const res = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      const a = res.Attributes ?? {};
      return {
        visible: Number(a.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
