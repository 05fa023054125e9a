/**
 * `npm run bench` entry: direct mode by default (bench/run.ts), queue mode with `--queue`
 * (bench/queue/run.ts), the adaptive-concurrency bench with `--adaptive` (bench/adaptive/run.ts).
 * Each reads its own flags from process.argv.
 */
const queue = process.argv.includes('--queue');
if (queue) {
  process.argv = process.argv.filter((a) => a !== '--queue');
  await import('./queue/run.js');
} else if (process.argv.includes('--adaptive')) {
  await import('./adaptive/run.js');
} else {
  await import('./run.js');
}
