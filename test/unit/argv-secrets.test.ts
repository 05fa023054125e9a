import { describe, expect, it } from 'vitest';
import { maskArgv, secretArgs } from '../../src/cli/argv-secrets.js';
import { makeRedactor } from '../../src/redact.js';

const argv = [
  'run',
  '--from',
  'postgres://u:pa%40ss@h/db',
  '--header',
  'Authorization: Bearer tok-1111',
  '--header=X-Api-Key: key-2222',
  '-HX-Auth-Token: tok-3333',
  '-H',
  'Authorization Bearer tok-4444',
  '-H',
  'X-Request-Source: bulk-import',
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

  it('masks secret query parameters of URLs in every spelling, and a mistyped --flag=URL', () => {
    const args = [
      'run',
      '--to',
      'https://h/x?api_key=key-5555&page=1',
      '--to=https://h/x?sig=sig-6666',
      '--form=postgres://app:pw-7777@h/db',
      '--tp=https://h/x?token=tok-8888',
      '-H',
      'Ocp-Apim-Subscription-Key: sub-9999',
      '-H',
      'Idempotency-Key: visible-key',
    ];
    const printed = maskArgv(args).join(' ');
    for (const s of ['key-5555', 'sig-6666', 'pw-7777', 'tok-8888', 'sub-9999']) expect(printed).not.toContain(s);
    expect(printed).toContain('page=1');
    expect(printed).toContain('--form=postgres://app:***@h/db');
    expect(printed).toContain('Idempotency-Key: visible-key');
    const redact = makeRedactor(secretArgs(args));
    const text = redact("error: unknown option 'key-5555 sig-6666 pw-7777 tok-8888 sub-9999'");
    for (const s of ['key-5555', 'sig-6666', 'pw-7777', 'tok-8888', 'sub-9999']) expect(text).not.toContain(s);
  });
});
