import { describe, expect, test } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';
import { fingerprintOf } from '../../src/run-import.js';
import { BulkImportError } from '../../src/errors.js';
import { importConfig } from '../../src/index.js';

const DIRECT = { from: 'rows.ndjson', to: 'http://127.0.0.1:1/x' };
const QUEUE = 'http://127.0.0.1:9/000000000000/q';

function errorOf(fn: () => unknown): BulkImportError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BulkImportError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('--concurrency auto', () => {
  test('starts at 4 with a ceiling of 256 by default, or --max-concurrency', () => {
    expect(parseRunConfig({ ...DIRECT, concurrency: 'auto' }, {})).toMatchObject({
      concurrency: 4,
      autoConcurrency: { max: 256 },
    });
    const two = parseRunConfig({ ...DIRECT, concurrency: 'auto', maxConcurrency: '2' }, {});
    expect(two).toMatchObject({ concurrency: 2, autoConcurrency: { max: 2 } });
    expect(parseRunConfig({ ...DIRECT, concurrency: '8' }, {}).autoConcurrency).toBeUndefined();
  });

  test.each([
    [
      { ...DIRECT, concurrency: 'auto', maxConcurrency: '0' },
      '--max-concurrency must be a whole number from 1 to 1024',
    ],
    [{ ...DIRECT, maxConcurrency: '64' }, '--max-concurrency needs --concurrency auto'],
    [{ from: 'rows.ndjson', queue: QUEUE, concurrency: 'auto' }, '--concurrency auto is for direct mode'],
  ])('%o → USAGE', (flags, message) => {
    const err = errorOf(() => parseRunConfig(flags, {}));
    expect(err.code).toBe('USAGE');
    expect(err.message).toContain(message);
  });

  test('the library takes it too, named as options', () => {
    expect(importConfig({ ...DIRECT, concurrency: 'auto', maxConcurrency: 32 }, {}).autoConcurrency).toEqual({
      max: 32,
    });
    expect(errorOf(() => importConfig({ ...DIRECT, maxConcurrency: 32 }, {})).message).toBe(
      'maxConcurrency needs concurrency auto',
    );
  });

  test('the job (checkpoint, idempotency keys) does not depend on the concurrency', () => {
    const fixed = fingerprintOf(parseRunConfig({ ...DIRECT, concurrency: '16' }, {}));
    const auto = fingerprintOf(parseRunConfig({ ...DIRECT, concurrency: 'auto', maxConcurrency: '64' }, {}));
    expect(auto).toEqual(fixed);
  });
});
