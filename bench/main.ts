/**
 * `npm run bench` entry: direct mode by default (bench/run.ts), queue mode with `--queue`
 * (bench/queue/run.ts). Each reads its own flags from process.argv.
 */
const queue = process.argv.includes('--queue');
if (queue) {
  process.argv = process.argv.filter((a) => a !== '--queue');
  await import('./queue/run.js');
} else {
  await import('./run.js');
}
