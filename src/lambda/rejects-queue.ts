import { BulkImportError, errorMessage } from '../errors.js';
import type { SendMessage } from '../queue/rejects.js';
import { resolveSqsConnection } from '../queue/sqs-endpoint.js';

/** A variable specifier: the bundler leaves it alone, and the nodejs22.x runtime ships the SDK. */
const load = (name: string): Promise<Record<string, unknown>> => import(name) as Promise<Record<string, unknown>>;

type Sendable = { send(command: unknown): Promise<unknown> };
type Ctor<T> = new (arg: Record<string, unknown>) => T;

/**
 * The rejects queue's SendMessage for the Lambda function, built once per container and only
 * when REJECTS_QUEUE_URL is set: the SQS client is imported at first use, so the bundle stays
 * free of the SDK. The region comes from the queue URL (else AWS_REGION); an endpoint from
 * AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, as for the CLI.
 */
export async function loadRejectsQueue(queueUrl: string, env: NodeJS.ProcessEnv): Promise<SendMessage> {
  const c = resolveSqsConnection(queueUrl, undefined, env);
  let sdk: Record<string, unknown>;
  try {
    sdk = await load('@aws-sdk/client-sqs');
  } catch (err) {
    const why = errorMessage(err).split('\n')[0];
    throw new BulkImportError('CONFIG', `REJECTS_QUEUE_URL: cannot load the SQS client (${why})`, { cause: err });
  }
  const Client = sdk.SQSClient as Ctor<Sendable>;
  const Send = sdk.SendMessageCommand as Ctor<unknown>;
  const client = new Client({
    region: c.region,
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.placeholderCredentials
      ? { credentials: { accessKeyId: 'bulk-import', secretAccessKey: 'bulk-import' } }
      : {}),
  });
  return async (body, attributes) => {
    await client.send(new Send({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: attributes }));
  };
}
