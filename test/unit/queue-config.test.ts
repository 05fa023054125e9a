import { describe, expect, test } from 'vitest';
import { flagName } from '../../src/config/names.js';
import { parseQueueConfig as parseQueue, type QueueOptions } from '../../src/config/queue-config.js';
import { parseForwarderEnv, parseSecretHeaders } from '../../src/lambda/config.js';
import { regionOfQueueUrl, resolveSqsConnection } from '../../src/queue/sqs-endpoint.js';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/listings';

describe('SQS connection', () => {
  test.each([
    [QUEUE, 'eu-west-1'],
    ['https://sqs.us-gov-west-1.amazonaws.com/1/q', 'us-gov-west-1'],
    ['https://ap-southeast-2.queue.amazonaws.com/1/q', 'ap-southeast-2'],
    ['https://queue.amazonaws.com/1/q', 'us-east-1'],
    ['http://sqs.us-east-1.localhost:4566/000000000000/q', 'us-east-1'],
    ['http://127.0.0.1:4566/000000000000/q', undefined],
  ])('%s → region %s', (url, region) => {
    expect(regionOfQueueUrl(url)).toBe(region);
  });

  test('endpoint: flag, else AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL; placeholder credentials only with an endpoint and none configured', () => {
    const env = {
      AWS_ENDPOINT_URL: 'http://a:1',
      AWS_ENDPOINT_URL_SQS: 'http://b:2',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/c',
      AWS_CONFIG_FILE: '/nonexistent/d',
    };
    expect(resolveSqsConnection(QUEUE, 'http://c:3', env)).toEqual({
      endpoint: 'http://c:3',
      region: 'eu-west-1',
      placeholderCredentials: true,
    });
    expect(resolveSqsConnection(QUEUE, undefined, env).endpoint).toBe('http://b:2');
    expect(resolveSqsConnection(QUEUE, undefined, { ...env, AWS_ENDPOINT_URL_SQS: undefined }).endpoint).toBe(
      'http://a:1',
    );
    expect(resolveSqsConnection(QUEUE, undefined, { ...env, AWS_ACCESS_KEY_ID: 'AKIA' }).placeholderCredentials).toBe(
      false,
    );
    expect(resolveSqsConnection(QUEUE, undefined, {})).toMatchObject({
      region: 'eu-west-1',
      placeholderCredentials: false,
    });
    expect(resolveSqsConnection('http://127.0.0.1:1/0/q', undefined, { AWS_REGION: 'sa-east-1' }).region).toBe(
      'sa-east-1',
    );
  });
});

const parseQueueConfig = (o: QueueOptions, env: NodeJS.ProcessEnv) => parseQueue(o, env, flagName);

describe('parseQueueConfig', () => {
  test('defaults to 64 KiB messages and run --retries', () => {
    const c = parseQueueConfig({ queue: QUEUE, messageBytes: '65536', retries: '3' }, {});
    expect(c).toMatchObject({ queueUrl: QUEUE, messageBytes: 65_536, retry: { retries: 3 } });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('no --queue: direct mode, and queue-only flags are refused', () => {
    expect(parseQueueConfig({ messageBytes: '65536' }, {})).toBeUndefined();
    expect(() => parseQueueConfig({ rowsPerMessage: '5' }, {})).toThrow('--rows-per-message needs --queue');
  });

  test.each([
    [{ queue: 'not a url' }, '--queue must be an http(s) URL'],
    [{ queue: 'https://sqs.us-east-1.amazonaws.com/1/q.fifo' }, 'FIFO queues are not supported'],
    [
      { queue: QUEUE, messageBytes: '2000000' },
      '--message-bytes must be a whole number from 1024 to 1048576 (got "2000000")',
    ],
    [{ queue: QUEUE, rowsPerMessage: '0' }, '--rows-per-message must be a whole number'],
    [{ queue: QUEUE, sqsEndpoint: 'ftp://x' }, '--sqs-endpoint must be an http(s) URL'],
  ])('%o → %s', (flags, message) => {
    expect(() => parseQueueConfig(flags, {})).toThrow(message);
  });
});

describe('forwarder environment', () => {
  test('headers from HEADERS and HEADER_<NAME>, numbers with defaults', () => {
    const c = parseForwarderEnv({
      TARGET_URL: 'https://api/x',
      HEADERS: '{"X-Tenant":"t1"}',
      HEADER_X_API_KEY: 'k',
      BATCH_SIZE: '25',
      STICKY: 'shared',
    });
    expect(c.target.headers).toEqual({ 'X-Tenant': 't1', 'x-api-key': 'k' });
    expect(c).toMatchObject({
      batchSize: 25,
      concurrency: 8,
      target: { sticky: 'shared', method: 'POST', timeoutMs: 10_000 },
    });
  });

  test.each([
    [{}, 'TARGET_URL is not set'],
    [{ TARGET_URL: 'ftp://x' }, 'TARGET_URL must be an http(s) URL'],
    [{ TARGET_URL: 'http://x', HEADERS: '[1]' }, 'HEADERS must be a JSON object'],
    [{ TARGET_URL: 'http://x', BATCH_SIZE: 'ten' }, 'BATCH_SIZE must be a whole number from 1 to 100000 (got "ten")'],
    [{ TARGET_URL: 'http://x', STICKY: 'yes' }, 'STICKY must be lane, shared or off'],
  ])('%o → %s', (env, message) => {
    expect(() => parseForwarderEnv(env)).toThrow(message);
  });

  test('HEADER_SECRETS names where a header value lives, never the value', () => {
    expect(parseSecretHeaders('{"Authorization":"ssm:/api/token","X-Key":"secretsmanager:prod/key"}')).toEqual({
      Authorization: { store: 'ssm', name: '/api/token' },
      'X-Key': { store: 'secretsmanager', name: 'prod/key' },
    });
    expect(() => parseSecretHeaders('{"Authorization":"Bearer abc"}')).toThrow(
      'must be "ssm:/name" or "secretsmanager:name"',
    );
    expect(parseForwarderEnv({ TARGET_URL: 'http://x', HEADER_SECRETS: '{"A":"ssm:/a"}' }).target.headers).toEqual({});
  });
});
