import { describe, expect, test } from 'vitest';
import { BulkImportError } from '../../src/errors.js';
import { buildForwardConfig, forwardConfig } from '../../src/config/forward-config.js';
import { flagName } from '../../src/config/names.js';
import { parseForwarderEnv } from '../../src/lambda/config.js';

const QUEUE = 'http://127.0.0.1:9/000000000000/q';
const TO = 'http://127.0.0.1:1/items';

function errorOf(fn: () => unknown): BulkImportError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BulkImportError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('forward --concurrency auto', () => {
  test('each poller starts at 4 with a ceiling of 64 by default, or --max-concurrency', () => {
    const flags = { queue: QUEUE, to: TO, concurrency: 'auto' };
    expect(buildForwardConfig(flags, {}, flagName).forwarder).toMatchObject({
      concurrency: 4,
      autoConcurrency: { max: 64 },
    });
    const two = buildForwardConfig({ ...flags, maxConcurrency: '2' }, {}, flagName).forwarder;
    expect(two).toMatchObject({ concurrency: 2, autoConcurrency: { max: 2 } });
    const fixed = buildForwardConfig({ queue: QUEUE, to: TO, concurrency: '8' }, {}, flagName).forwarder;
    expect(fixed.autoConcurrency).toBeUndefined();
    expect(fixed.concurrency).toBe(8);
  });

  test.each([
    [{ maxConcurrency: '8' }, '--max-concurrency needs --concurrency auto'],
    [{ concurrency: 'auto', maxConcurrency: '2000' }, '--max-concurrency must be a whole number from 1 to 1024'],
    [{ concurrency: 'lots' }, '--concurrency must be a whole number from 1 to 1024, or auto (got "lots")'],
    [{ concurrency: '0' }, '--concurrency must be a whole number from 1 to 1024 (got "0")'],
  ])('%o → USAGE', (flags, message) => {
    const err = errorOf(() => buildForwardConfig({ queue: QUEUE, to: TO, ...flags }, {}, flagName));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain(message);
  });

  test('the library names its options', () => {
    expect(
      forwardConfig({ queue: QUEUE, to: TO, concurrency: 'auto', maxConcurrency: 16 }, {}).forwarder,
    ).toMatchObject({ autoConcurrency: { max: 16 } });
    expect(errorOf(() => forwardConfig({ queue: QUEUE, to: TO, maxConcurrency: 16 }, {})).message).toBe(
      'maxConcurrency needs concurrency auto',
    );
  });
});

describe('the Lambda: CONCURRENCY=auto, MAX_CONCURRENCY', () => {
  const base = { TARGET_URL: TO };

  test('auto, with its ceiling per container', () => {
    expect(parseForwarderEnv({ ...base, CONCURRENCY: 'auto' })).toMatchObject({
      concurrency: 4,
      autoConcurrency: { max: 64 },
    });
    expect(parseForwarderEnv({ ...base, CONCURRENCY: 'AUTO', MAX_CONCURRENCY: '16' })).toMatchObject({
      autoConcurrency: { max: 16 },
    });
  });

  test('with a fixed CONCURRENCY, MAX_CONCURRENCY is checked but changes nothing (the template sets both)', () => {
    expect(parseForwarderEnv({ ...base, CONCURRENCY: '8', MAX_CONCURRENCY: '16' })).toEqual(
      parseForwarderEnv({ ...base, CONCURRENCY: '8' }),
    );
    const err = errorOf(() => parseForwarderEnv({ ...base, MAX_CONCURRENCY: 'x' }));
    expect(err.code).toBe('CONFIG');
    expect(err.message).toBe('MAX_CONCURRENCY must be a whole number from 1 to 1024 (got "x")');
  });

  test.each([
    [{ CONCURRENCY: 'auto', MAX_CONCURRENCY: '0' }, 'MAX_CONCURRENCY must be a whole number from 1 to 1024 (got "0")'],
    [{ CONCURRENCY: 'sometimes' }, 'CONCURRENCY must be a whole number from 1 to 1024, or auto (got "sometimes")'],
  ])('%o → CONFIG, one line naming the variable', (env, message) => {
    const err = errorOf(() => parseForwarderEnv({ ...base, ...env }));
    expect(err.code).toBe('CONFIG');
    expect(err.message).toBe(message);
  });
});
