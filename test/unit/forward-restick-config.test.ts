import { describe, expect, test } from 'vitest';
import { FORWARDER_DEFAULTS } from '../../src/config/defaults.js';
import { buildForwardConfig, forwardConfig } from '../../src/config/forward-config.js';
import { flagName } from '../../src/config/names.js';
import { BulkImportError } from '../../src/errors.js';
import { parseForwarderEnv } from '../../src/lambda/config.js';

const QUEUE = 'http://127.0.0.1:9/000000000000/q';
const TO = 'http://127.0.0.1:1/items';
const base = { TARGET_URL: TO };

function errorOf(fn: () => unknown): BulkImportError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BulkImportError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('forward --restick-after / --target-header', () => {
  test('default 5 minutes, like run; a duration, or off', () => {
    expect(FORWARDER_DEFAULTS.restickAfter).toBe('5m');
    const target = (flags: Record<string, string>) =>
      buildForwardConfig({ queue: QUEUE, to: TO, ...flags }, {}, flagName).forwarder.target;
    expect(target({}).restickAfterMs).toBe(300_000);
    expect(target({ restickAfter: '1s' }).restickAfterMs).toBe(1000);
    expect(target({ restickAfter: 'off' }).restickAfterMs).toBe(0);
    expect(target({ targetHeader: 'X-Backend' }).targetHeader).toBe('x-backend');
    expect(forwardConfig({ queue: QUEUE, to: TO, restickAfter: 2500 }, {}).forwarder.target.restickAfterMs).toBe(2500);
  });

  test.each([
    [{ restickAfter: 'soon' }, '--restick-after must be a duration like 5m or 30s, or off (got "soon")'],
    [{ restickAfter: '-1s' }, '--restick-after must be a duration like 5m or 30s, or off (got "-1s")'],
    [{ targetHeader: 'x backend' }, '--target-header: "x backend" is not a valid header name'],
  ])('%o → USAGE, one line naming the flag', (flags, message) => {
    const err = errorOf(() => buildForwardConfig({ queue: QUEUE, to: TO, ...flags }, {}, flagName));
    expect(err.code).toBe('USAGE');
    expect(err.message).toBe(message);
  });
});

describe('the Lambda: RESTICK_AFTER and TARGET_HEADER', () => {
  test('unset: the forwarder default (5m), no header; set: as forward --restick-after takes it', () => {
    expect(parseForwarderEnv(base).target.restickAfterMs).toBe(300_000);
    expect(parseForwarderEnv(base).target.targetHeader).toBeUndefined();
    // An empty variable (a template parameter left blank) counts as unset.
    expect(parseForwarderEnv({ ...base, RESTICK_AFTER: '', TARGET_HEADER: '' }).target).toMatchObject({
      restickAfterMs: 300_000,
    });
    expect(parseForwarderEnv({ ...base, RESTICK_AFTER: '90s' }).target.restickAfterMs).toBe(90_000);
    expect(parseForwarderEnv({ ...base, RESTICK_AFTER: 'off' }).target.restickAfterMs).toBe(0);
    expect(parseForwarderEnv({ ...base, RESTICK_AFTER: '0' }).target.restickAfterMs).toBe(0);
    expect(parseForwarderEnv({ ...base, TARGET_HEADER: 'X-Backend' }).target.targetHeader).toBe('x-backend');
  });

  test.each([
    [{ RESTICK_AFTER: 'soon' }, 'RESTICK_AFTER must be a duration like 5m or 30s, or off (got "soon")'],
    [{ RESTICK_AFTER: '5 minutes' }, 'RESTICK_AFTER must be a duration like 30s, 1500ms or 2m (got "5 minutes")'],
    [{ TARGET_HEADER: 'x backend' }, 'TARGET_HEADER: "x backend" is not a valid header name'],
  ])('%o → CONFIG, one line naming the variable', (env, message) => {
    const err = errorOf(() => parseForwarderEnv({ ...base, ...env }));
    expect(err.code).toBe('CONFIG');
    expect(err.message).not.toContain('\n');
    expect(err.message).toBe(message);
  });
});
