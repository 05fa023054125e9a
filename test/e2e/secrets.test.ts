import { chmod, readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { makeRows } from '../helpers/import.js';
import { tempDir } from '../helpers/tmp.js';

/** Each a secret in its own spelling; none may appear in anything the tool prints or writes. */
const SECRETS = [
  'apikey-1111',
  'key-2222',
  'sig-3333',
  'signature-4444',
  'token-5555',
  'amzsig-6666',
  'xauth-7777',
  'apim-8888',
];
const QUERY =
  `api_key=${SECRETS[0]}&key=${SECRETS[1]}&sig=${SECRETS[2]}&signature=${SECRETS[3]}&token=${SECRETS[4]}` +
  `&X-Amz-Signature=${SECRETS[5]}&page=visible-page`;
const HEADERS = [
  '-H',
  `X-Auth-Key: ${SECRETS[6]}`,
  `--header=Ocp-Apim-Subscription-Key: ${SECRETS[7]}`,
  '-H',
  'Idempotency-Key: fine',
];

function expectNoSecret(where: string, text: string): void {
  for (const s of SECRETS) expect(text, `${where} leaks ${s}`).not.toContain(s);
}

describe('secrets in --to and headers never reach output or files', () => {
  it('summary, resume command, checkpoint, status and --summary-json (0600) are masked', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    const ckpt = `${dir.path}/c.ckpt.json`;
    const summary = await dir.file('summary.json', '{}');
    await chmod(summary, 0o644); // an existing, world-readable file must be closed up
    await using sink = await startHttpSink({ latencyMs: 20, record: 'count' });
    const to = `${new URL('/items', sink.url).href}?${QUERY}`;
    const cli = startCli([
      'run',
      '--from',
      from,
      '--to',
      to,
      ...HEADERS,
      '--batch-size',
      '10',
      '--concurrency',
      '2',
      '--checkpoint',
      ckpt,
      '--summary-json',
      summary,
      '--no-progress',
    ]);
    for (const end = Date.now() + 20_000; sink.counts.requests < 5 && Date.now() < end; ) await sleep(20);
    cli.child.kill('SIGINT');
    const r = await cli.done();
    expect(r.code, r.stderr).toBe(130);
    expect(sink.counts.requests).toBeGreaterThan(0);
    expectNoSecret('summary', r.stdout);
    expect(r.stdout).toContain('page=visible-page');
    expect(r.stdout).toContain('api_key=***');
    expectNoSecret('stderr (resume command)', r.stderr);
    expect(r.stderr).toMatch(
      /resume with: bulk-import run .*--to '?http:\/\/127\.0\.0\.1:\d+\/items\?api_key=\*\*\*&key=\*\*\*/,
    );
    expect(r.stderr).toContain('X-Auth-Key: ***');
    expect(r.stderr).toContain('Idempotency-Key: fine');
    expectNoSecret('checkpoint', await readFile(ckpt, 'utf8'));
    const json = await readFile(summary, 'utf8');
    expectNoSecret('summary json', json);
    expect(JSON.parse(json).target).toContain('sig=***');
    expect((await stat(summary)).mode & 0o777).toBe(0o600);
    const status = await runCli(['status', ckpt]);
    expect(status.code, status.stderr).toBe(0);
    expectNoSecret('status', status.stdout + status.stderr);
  });

  it.each([
    [['run', '--form=postgres://app:pw-9999-secret@127.0.0.1/db', '--to', 'http://127.0.0.1:9/x'], 'pw-9999-secret'],
    [['run', '--from', 'rows.ndjson', '--tp=http://127.0.0.1:9/x?api_key=k-9999-secret'], 'k-9999-secret'],
    [['run', 'postgres://app:pw-8888-secret@127.0.0.1/db'], 'pw-8888-secret'],
  ])('commander errors are masked: %j', async (args, secret) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    const line = expectOneLine(r.stderr);
    expect(line).toMatch(/error: (unknown option|too many arguments)/);
    expect(r.stderr + r.stdout).not.toContain(secret);
  });
});
