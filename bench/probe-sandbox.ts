import { parseArgs } from 'node:util';
import { startCapacityFleet } from '../test/helpers/capacity-target.js';

/**
 * A local API to point `bulk-import probe` at, for the README's sample output: the sticky
 * balancer (round robin, AWSALB cookies) in front of capacity targets with a session cost
 * (test/helpers/capacity-target.ts). It prints its URL and serves until SIGINT/SIGTERM or --seconds.
 *
 *   npm run build && node dist/bench/probe-sandbox.js --targets 3 --workers 4 --service-ms 20 --session-ms 15
 */
const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '3' },
    workers: { type: 'string', default: '4' },
    'service-ms': { type: 'string', default: '20' },
    'session-ms': { type: 'string', default: '15' },
    queue: { type: 'string', default: '8' },
    port: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '300' },
  },
});
const fleet = await startCapacityFleet(
  Number(values.targets),
  {
    workers: Number(values.workers),
    serviceMs: Number(values['service-ms']),
    sessionMs: Number(values['session-ms']),
    queue: Number(values.queue),
  },
  { port: Number(values.port) },
);
process.stdout.write(
  `${fleet.url}/listings  (${values.targets} targets × ${values.workers} workers × ${values['service-ms']} ms,` +
    ` +${values['session-ms']} ms per new session, queue ${values.queue} each)\n`,
);
const stop = async () => {
  const served = fleet.backends.map((b) => `${b.name} ${b.counts.requests} requests, ${b.counts.refused} refused`);
  process.stdout.write(`${served.join('; ')}\n`);
  await fleet.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setTimeout(stop, Number(values.seconds) * 1000).unref();
await new Promise(() => undefined);
