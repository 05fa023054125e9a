import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLine, runCli } from '../helpers/cli.js';
import { makeRows } from '../helpers/import.js';
import { startStickyBalancer } from '../helpers/sticky-balancer.js';
import { tempDir } from '../helpers/tmp.js';

describe('lanes per target, through the binary', () => {
  it('the summary and --summary-json show lanes per target; cookie values only as short hashes', async () => {
    await using dir = await tempDir();
    const from = await dir.file('rows.ndjson', makeRows(3000));
    const json = join(dir.path, 'summary.json');
    await using lb = await startStickyBalancer({ backends: 3 });
    const res = await runCli([
      'run',
      ...['--from', from, '--to', lb.url, '--batch-size', '10', '--concurrency', '6'],
      ...['--no-progress', '--no-checkpoint', '--summary-json', json],
    ]);
    expect(res.code).toBe(0);
    const line = res.stdout.split('\n').find((l) => l.startsWith('  lanes per target'));
    expect(line).toMatch(
      /^ {2}lanes per target \(by cookie AWSALB, hashed\): #[0-9a-f]{8} 2, #[0-9a-f]{8} 2, #[0-9a-f]{8} 2; re-placed 0 lanes$/,
    );
    const summary = JSON.parse(await readFile(json, 'utf8')) as { lanePlacement: Record<string, unknown> };
    expect(summary.lanePlacement).toMatchObject({
      by: 'cookie AWSALB',
      replaced: { uneven: 0, restickAfter: 0 },
      restickAfterMs: 300_000,
    });
    // The balancer's cookie values (secrets-ish: they may carry the target's address) appear nowhere.
    const values = lb.backends.map((b) => Buffer.from(`alb-sim:${b.name}`).toString('base64'));
    const all = `${res.stdout}${res.stderr}${await readFile(json, 'utf8')}`;
    for (const v of values) expect(all).not.toContain(v);
  }, 60_000);

  it('a bad --restick-after: one line, exit 2', async () => {
    const res = await runCli([
      'run',
      '--from',
      'rows.ndjson',
      '--to',
      'http://127.0.0.1:9/x',
      '--restick-after',
      'soon',
    ]);
    expect(res.code).toBe(2);
    expect(expectOneLine(res.stderr)).toMatch(
      /--restick-after must be a duration like 5m or 30s, or off \(got "soon"\)/,
    );
  });
});
