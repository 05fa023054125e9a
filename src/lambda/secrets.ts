import { BulkImportError, errorMessage } from '../errors.js';
import type { SecretRef } from '../config/forward-config.js';

/**
 * The SDK clients for SSM and Secrets Manager are not dependencies of bulk-import: the nodejs22.x
 * runtime ships AWS SDK v3, so they are imported at first use, by a name the bundler leaves alone
 * (a variable specifier), and only in a container that has secret headers at all.
 */
const load = (name: string): Promise<Record<string, unknown>> => import(name) as Promise<Record<string, unknown>>;

type Sendable = { send(command: unknown): Promise<Record<string, unknown>> };
type Ctor<T> = new (arg: Record<string, unknown>) => T;

/** Header name → value, fetched once per container (the caller keeps the result at module scope). */
export async function fetchSecretHeaders(
  refs: Readonly<Record<string, SecretRef>>,
  region?: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const clients = new Map<string, Sendable>();
  for (const [header, ref] of Object.entries(refs)) {
    try {
      out[header] =
        ref.store === 'ssm'
          ? await fromSsm(ref.name, clients, region)
          : await fromSecretsManager(ref.name, clients, region);
    } catch (err) {
      // The message names the header and where its value should come from, never a value.
      throw new BulkImportError(
        'CONFIG',
        `header ${header}: cannot read ${ref.store}:${ref.name} (${errorMessage(err).split('\n')[0]})`,
        { cause: err },
      );
    }
  }
  return out;
}

async function fromSsm(name: string, clients: Map<string, Sendable>, region?: string): Promise<string> {
  const sdk = await load('@aws-sdk/client-ssm');
  const client = clientFor(clients, 'ssm', sdk.SSMClient as Ctor<Sendable>, region);
  const Get = sdk.GetParameterCommand as Ctor<unknown>;
  const res = (await client.send(new Get({ Name: name, WithDecryption: true }))) as { Parameter?: { Value?: string } };
  const value = res.Parameter?.Value;
  if (value === undefined) throw new Error('the parameter has no value');
  return value;
}

async function fromSecretsManager(name: string, clients: Map<string, Sendable>, region?: string): Promise<string> {
  const sdk = await load('@aws-sdk/client-secrets-manager');
  const client = clientFor(clients, 'secretsmanager', sdk.SecretsManagerClient as Ctor<Sendable>, region);
  const Get = sdk.GetSecretValueCommand as Ctor<unknown>;
  const res = (await client.send(new Get({ SecretId: name }))) as { SecretString?: string };
  if (res.SecretString === undefined) throw new Error('the secret has no string value');
  return res.SecretString;
}

function clientFor(clients: Map<string, Sendable>, key: string, Client: Ctor<Sendable>, region?: string): Sendable {
  let c = clients.get(key);
  if (!c) {
    c = new Client(region ? { region } : {});
    clients.set(key, c);
  }
  return c;
}
