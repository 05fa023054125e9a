import { describe, expect, it } from 'vitest';
import { expectOneLine, runCli } from '../helpers/cli.js';

const Q = 'http://127.0.0.1:9/000000000000/rows';
const TO = ['--to', 'http://127.0.0.1:9/x'];

describe('replay --queue and forward --rejects-queue: bad input is one line, exit 2', () => {
  it.each([
    [['replay', ...TO], /replay needs a failed-rows file, or --queue URL/],
    [['replay', 'f.ndjson', '--queue', Q, ...TO], /a failed-rows file or --queue, not both/],
    [['replay', '--queue', Q, ...TO, '--failed', ''], /--failed must name a file/],
    [['replay', '--queue', 'not a url', ...TO], /--queue must be an http\(s\) URL/],
    [['replay', 'f.ndjson', ...TO, '--sqs-endpoint', 'http://127.0.0.1:9'], /--sqs-endpoint needs --queue/],
    [['forward', '--queue', Q, ...TO, '--rejects-queue', Q], /--rejects-queue must differ from --queue/],
    [['forward', '--queue', Q, ...TO, '--rejects-queue', 'nope'], /--rejects-queue must be an http\(s\) URL/],
    // A 1 s visibility leaves no time to start a request: refused, not a silent loop of redeliveries.
    [
      ['forward', '--queue', Q, ...TO, '--visibility-timeout', '1'],
      /--visibility-timeout must be a whole number from 2/,
    ],
  ])('%j', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code, r.stderr).toBe(2);
    expect(expectOneLine(r.stderr)).toMatch(message as RegExp);
  });
});
