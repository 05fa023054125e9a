import { describe, expect, it } from 'vitest';
import { maskArgv, secretArgs } from '../../src/cli/argv-secrets.js';
import { makeRedactor } from '../../src/redact.js';

const argv = [
  'run', '--from', 'postgres://u:pa%40ss@h/db', '--header', 'Authorization: Bearer tok-1111', '--header=X-Api-Key: key-2222',
  '-HX-Auth-Token: tok-3333', '-H', 'Authorization Bearer tok-4444', '-H', 'X-Request-Source: bulk-import',
];

describe('command-line secrets', () => {
  it('masks every spelling of a secret header and URL passwords when the command is printed', () => {
    const printed = maskArgv(argv).join(' ');
    for (const s of ['tok-1111', 'key-2222', 'tok-3333', 'tok-4444', 'pa%40ss']) expect(printed).not.toContain(s);
    expect(printed).toContain('--header=X-Api-Key: ***');
    expect(printed).toContain('X-Request-Source: bulk-import');
  });

  it('finds the values to scrub from error messages', () => {
    const redact = makeRedactor(secretArgs(argv));
    const text = redact('failed: Bearer tok-1111 key-2222 tok-3333 tok-4444 pa@ss bulk-import');
    for (const s of ['tok-1111', 'key-2222', 'tok-3333', 'tok-4444', 'pa@ss']) expect(text).not.toContain(s);
    expect(text).toContain('bulk-import');
  });
});
