import { afterAll, beforeAll, expect, test } from 'vitest';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalSqs, type LocalSqs } from '../../src/demo/sandbox/local-sqs.js';
import { expectOneLine, runCli } from '../helpers/cli.js';

let sqs: LocalSqs;
beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs.close();
});

test('queue-status shows visible, in flight, delayed and the DLQ found from the RedrivePolicy', async () => {
  const q = await sqs.createQueueWithDlq('status', 3);
  for (let i = 0; i < 3; i++) await sqs.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '{}' }));
  await sqs.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: '{}', DelaySeconds: 60 }));
  await sqs.sqs.send(new SendMessageCommand({ QueueUrl: q.dlqUrl, MessageBody: '{}' }));
  const res = await runCli(['queue-status', '--queue', q.url, '--sqs-endpoint', sqs.endpoint]);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  expect(res.stdout).toBe(
    `queue ${q.url}: 3 visible, 0 in flight, 1 delayed\ndlq   ${q.dlqUrl}: 1 message (after 3 receives)\n`,
  );
});

test('an unreachable endpoint is one line on stderr and exit 2, with no SDK warning', async () => {
  const res = await runCli(
    [
      'queue-status',
      '--queue',
      'http://sqs.us-east-1.localhost:9/000000000000/q',
      '--sqs-endpoint',
      'http://127.0.0.1:9',
    ],
    {
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined },
    },
  );
  expect(res.code).toBe(2);
  expect(expectOneLine(res.stderr)).toMatch(/^bulk-import: queue-status .*ECONNREFUSED/);
});

test('a queue that does not exist is named in one line', async () => {
  const res = await runCli([
    'queue-status',
    '--queue',
    `http://sqs.us-east-1.localhost:${sqs.port}/000000000000/nope`,
    '--sqs-endpoint',
    sqs.endpoint,
  ]);
  expect(res.code).toBe(2);
  expect(expectOneLine(res.stderr)).toMatch(/queue .*\/nope does not exist/);
});
