import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { FORWARDER_DEFAULTS } from '../../src/config/defaults.js';
import { parseForwarderEnv } from '../../src/lambda/config.js';

/**
 * deploy/template.yaml sets the Lambda's environment from its parameters; their defaults must be
 * the defaults module's, or a stack deployed with defaults behaves unlike `forward` and the docs.
 */
const template = readFileSync(new URL('../../deploy/template.yaml', import.meta.url), 'utf8');

/** Scalars of a YAML mapping by dotted path (enough for a CloudFormation template: no flow maps, lists skipped). */
function scalars(yaml: string): Map<string, string> {
  const out = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  let foldedAbove = -1;
  for (const line of yaml.split('\n')) {
    const indent = line.length - line.trimStart().length;
    if (foldedAbove >= 0 && (line.trim() === '' || indent > foldedAbove)) continue;
    foldedAbove = -1;
    const m = /^(\s*)([A-Za-z0-9_]+):(?:\s+(.*))?$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    while (stack.length > 0 && (stack.at(-1) as { indent: number }).indent >= indent) stack.pop();
    stack.push({ indent, key: m[2] as string });
    const value = (m[3] ?? '').replace(/\s+#.*$/, '').trim();
    if (value === '>' || value === '|') foldedAbove = indent;
    else if (value !== '') out.set(stack.map((s) => s.key).join('.'), value.replace(/^'(.*)'$/, '$1'));
  }
  return out;
}

const yaml = scalars(template);
const VARIABLES = 'Resources.Forwarder.Properties.Environment.Variables';

/** A variable's value when the stack is deployed with every parameter at its default. */
function deployedDefault(variable: string): string | undefined {
  const raw = yaml.get(`${VARIABLES}.${variable}`);
  const ref = raw && /^!Ref (\w+)$/.exec(raw);
  return ref ? yaml.get(`Parameters.${ref[1]}.Default`) : raw;
}

describe('deploy/template.yaml', () => {
  test('the function environment defaults are the defaults module', () => {
    expect(deployedDefault('BATCH_SIZE')).toBe(String(FORWARDER_DEFAULTS.batchSize));
    expect(deployedDefault('CONCURRENCY')).toBe(String(FORWARDER_DEFAULTS.concurrency));
    expect(deployedDefault('MAX_CONCURRENCY')).toBe(String(FORWARDER_DEFAULTS.maxConcurrency));
    expect(deployedDefault('STICKY')).toBe(FORWARDER_DEFAULTS.sticky);
    expect(deployedDefault('TIMEOUT_MS')).toBe(String(FORWARDER_DEFAULTS.timeoutMs));
    expect(deployedDefault('RESTICK_AFTER')).toBe(FORWARDER_DEFAULTS.restickAfter);
    // Empty: no header, the balancer cookie tells the targets apart.
    expect(deployedDefault('TARGET_HEADER')).toBe('');
    // Set only if the template sets them; then they must agree too.
    for (const [variable, value] of [
      ['METHOD', FORWARDER_DEFAULTS.method],
      ['RETRIES', FORWARDER_DEFAULTS.retries],
      ['SAFETY_MS', FORWARDER_DEFAULTS.safetyMs],
    ] as const) {
      const given = deployedDefault(variable);
      if (given !== undefined) expect(given).toBe(String(value));
    }
  });

  test('a stack deployed with defaults configures the forwarder as no variables at all would', () => {
    const names = [...yaml.keys()]
      .filter((k) => k.startsWith(`${VARIABLES}.`))
      .map((k) => k.slice(VARIABLES.length + 1));
    expect(names).toEqual(expect.arrayContaining(['TARGET_URL', 'BATCH_SIZE', 'CONCURRENCY', 'STICKY', 'TIMEOUT_MS']));
    const env: Record<string, string> = { TARGET_URL: 'https://api.example.com/items' };
    for (const n of names) {
      const v = deployedDefault(n);
      if (n !== 'TARGET_URL' && n !== 'REJECTS_QUEUE_URL' && v !== undefined) env[n] = v;
    }
    expect(parseForwarderEnv(env)).toEqual(parseForwarderEnv({ TARGET_URL: 'https://api.example.com/items' }));
  });
});

describe('deploy/template.yaml RestickAfter', () => {
  test('its AllowedPattern takes what RESTICK_AFTER takes, and refuses at deploy what would fail the start', () => {
    const pattern = new RegExp(yaml.get('Parameters.RestickAfter.AllowedPattern') as string);
    for (const v of ['5m', '90s', '1500ms', 'off', '0']) {
      expect(pattern.test(v)).toBe(true);
      expect(() => parseForwarderEnv({ TARGET_URL: 'https://api.example.com/items', RESTICK_AFTER: v })).not.toThrow();
    }
    for (const v of ['soon', '5 minutes', '-1s', '']) expect(pattern.test(v)).toBe(false);
  });
});
