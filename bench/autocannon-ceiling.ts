import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The HTTP ceiling: autocannon firing the same 1-row body at the same sink, keep-alive, no
 * database and no per-request work. `<sink-url> <body-file> <connections> <seconds>`; prints
 * autocannon's totals as one JSON line.
 */
const [url, bodyFile, connections, seconds] = process.argv.slice(2);
if (!url || !bodyFile) throw new Error('usage: <sink-url> <body-file> <connections> <seconds>');
const result = await autocannon({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: readFileSync(bodyFile, 'utf8'),
  connections: Number(connections),
  duration: Number(seconds),
});
const ok = result['2xx'];
process.stdout.write(
  `${JSON.stringify({ rows: ok, requests: ok, seconds: result.duration, non2xx: result.non2xx, errors: result.errors })}\n`,
);
process.exitCode = result.non2xx > 0 || result.errors > 0 ? 1 : 0;
