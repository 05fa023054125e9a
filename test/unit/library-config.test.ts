import { describe, expect, test } from 'vitest';
import { FORWARDER_DEFAULTS, IMPORT_DEFAULTS } from '../../src/config/defaults.js';
import { BulkImportError, forwardConfig, importConfig, replayConfig } from '../../src/index.js';
import { parseRunConfig } from '../../src/cli/config.js';
import { parseForwarderEnv } from '../../src/lambda/config.js';

const QUEUE = 'http://127.0.0.1:4566/000000000000/listings';

function errorOf(fn: () => unknown): BulkImportError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BulkImportError) return err;
    throw err;
  }
  throw new Error('expected a BulkImportError');
}

describe('importConfig: typed options, the CLI defaults and checks', () => {
  test('numbers as numbers, durations as ms or text, everything else defaulted', () => {
    const c = importConfig(
      {
        from: 'postgres://h/db',
        table: 'listings',
        to: 'http://127.0.0.1:1/x',
        concurrency: 4,
        timeout: 1500,
        statementTimeout: '2m',
      },
      {},
    );
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toMatchObject({
      batchSize: IMPORT_DEFAULTS.batchSize,
      concurrency: 4,
      target: { timeoutMs: 1500, sticky: 'lane', method: 'POST' },
    });
    expect(c.source).toMatchObject({
      kind: 'postgres',
      key: ['id'],
      pageRows: IMPORT_DEFAULTS.pageRows,
      statementTimeoutMs: 120_000,
    });
    // The same import from the CLI's text flags is the same config.
    const cli = parseRunConfig(
      {
        from: 'postgres://h/db',
        table: 'listings',
        to: 'http://127.0.0.1:1/x',
        concurrency: '4',
        timeout: '1500ms',
        statementTimeout: '2m',
      },
      {},
    );
    expect(c).toEqual(cli);
  });

  test('a header object or "Name: value" lines', () => {
    const c = importConfig(
      { from: 'rows.ndjson', to: 'http://127.0.0.1:1/x', header: { Authorization: 'Bearer t' } },
      {},
    );
    expect(c.target?.headers).toEqual({ Authorization: 'Bearer t' });
    expect(
      importConfig({ from: 'rows.ndjson', to: 'http://127.0.0.1:1/x', header: ['X-A: 1'] }, {}).target?.headers,
    ).toEqual({ 'X-A': '1' });
  });

  test.each([
    [{ concurrency: 0 }, 'concurrency must be a whole number from 1 to 1024 (got "0")'],
    [{ batchSize: 2.5 }, 'batchSize must be a whole number from 1 to 100000 (got "2.5")'],
    [{ timeout: 'soon' }, 'timeout must be a duration like 30s, 1500ms or 2m (got "soon")'],
    [{ sticky: 'yes' }, 'sticky must be lane, shared or off (got "yes")'],
    [{ to: 'ftp://x' }, 'to must be an http(s) URL (got "ftp:")'],
    [{ to: undefined }, 'to is required: the API endpoint rows are sent to (or queue for queue mode)'],
    [{ table: 't' }, 'table, query and where need a PostgreSQL source in from'],
  ])('%o → USAGE "%s": one line naming the option', (bad, message) => {
    const err = errorOf(() => importConfig({ from: 'rows.ndjson', to: 'http://127.0.0.1:1/x', ...bad }, {}));
    expect(err.code).toBe('USAGE');
    expect(err.message).toBe(message);
  });

  test('the CLI names the flag for the same rule', () => {
    expect(() => parseRunConfig({ from: 'rows.ndjson', to: 'http://x', concurrency: '0' }, {})).toThrow(
      '--concurrency must be a whole number from 1 to 1024 (got "0")',
    );
  });
});

describe('forwardConfig and replayConfig', () => {
  test("forward takes the forwarder's defaults, as the Lambda does", () => {
    const c = forwardConfig({ queue: QUEUE, to: 'http://127.0.0.1:1/x' }, {});
    const lambda = parseForwarderEnv({ TARGET_URL: 'http://127.0.0.1:1/x' });
    expect(c.forwarder).toEqual(lambda);
    expect(c).toMatchObject({
      pollers: 2,
      untilEmpty: false,
      forwarder: { concurrency: FORWARDER_DEFAULTS.concurrency },
    });
    expect(errorOf(() => forwardConfig({ queue: QUEUE, to: 'http://x', pollers: 0 }, {})).message).toBe(
      'pollers must be a whole number from 1 to 256 (got "0")',
    );
  });

  test('the Lambda names the variable, as a CONFIG error', () => {
    const err = errorOf(() => parseForwarderEnv({ TARGET_URL: 'http://x', CONCURRENCY: '0' }));
    expect(err.code).toBe('CONFIG');
    expect(err.message).toBe('CONCURRENCY must be a whole number from 1 to 1024 (got "0")');
    expect(errorOf(() => parseForwarderEnv({ TARGET_URL: 'http://x', METHOD: 'GET' })).message).toBe(
      'METHOD must be POST, PUT or PATCH (got "GET")',
    );
    expect(errorOf(() => parseForwarderEnv({ TARGET_URL: 'http://x', HEADER_X_A: 'a\nb' })).message).toBe(
      'HEADER_X_A x-a: the value has a line break or NUL',
    );
  });

  test('replay: a file becomes an import of its rows, a queue a pass over it', () => {
    const file = replayConfig({ file: 'jobs.failed.ndjson', to: 'http://127.0.0.1:1/x' }, {});
    expect(file).toMatchObject({
      kind: 'file',
      run: {
        source: { kind: 'failed-rows', path: 'jobs.failed.ndjson' },
        failed: 'jobs.failed.again.ndjson',
        checkpoint: null,
      },
    });
    const queue = replayConfig({ queue: QUEUE, to: 'http://127.0.0.1:1/x' }, {});
    expect(queue).toMatchObject({ kind: 'queue', queueUrl: QUEUE, failed: 'replay-listings.failed.ndjson' });
    expect(() => replayConfig({ file: 'a.ndjson', queue: QUEUE, to: 'http://x' }, {})).toThrow(
      'replay takes a failed-rows file or queue, not both',
    );
  });
});
