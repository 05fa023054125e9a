import { startCapacityApiServer, type CapacityModel } from '../../src/demo/sandbox/capacity-api.js';

/**
 * The adaptive bench's API, in its own process so the client under test shares the cores with it
 * but not its event loop: the capacity model of src/demo/sandbox/capacity-api.ts (k workers × s ms,
 * a bounded FIFO queue, 503 beyond), with a meter per run. Driven by capacity-process.ts over IPC:
 * it sends `{ url }` once listening; `configure` sets the model, `reset` starts a run's meter,
 * `report` answers what the API saw since.
 *
 * Latency is measured here, at the API: from the arrival of a request's head to its answer, so it
 * includes the time queued behind the workers, which is what a fixed concurrency past the knee
 * costs and what an adaptive client must keep small.
 */
export interface CapacityReport {
  /** Requests that reached the API: answered 200 + refused. */
  readonly requests: number;
  readonly accepted: number;
  readonly refused: number;
  /** Rows in the bodies of accepted requests. */
  readonly rows: number;
  /** From the first arrival to the last answer, ms (0 when nothing arrived). */
  readonly spanMs: number;
  /** Arrival-to-answer latency of accepted requests, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests admitted (working + queued), averaged over the span, and the most at once. */
  readonly meanInFlight: number;
  readonly maxInFlight: number;
  /** This process's user + system CPU so far, µs. */
  readonly cpuMicros: number;
}

export type CapacityCommand =
  | { readonly type: 'configure'; readonly model: CapacityModel }
  | { readonly type: 'reset' }
  | { readonly type: 'report' };

/** At most this many latencies a run (~8 MB): a runaway run must not grow the server without end. */
const MAX_SAMPLES = 1_000_000;

let latencies = new Float64Array(1024);
let samples = 0;
let accepted = 0;
let refused = 0;
let rows = 0;
let first = Number.NaN;
let last = Number.NaN;
let level = 0;
let levelSince = 0;
let area = 0;
let maxInFlight = 0;

/** The admitted count changed at `at`: the time-weighted mean in flight integrates the old level. */
const step = (inFlight: number, at: number) => {
  if (!Number.isNaN(first)) area += level * (at - levelSince);
  level = inFlight;
  levelSince = at;
  maxInFlight = Math.max(maxInFlight, inFlight);
};
const arrived = (at: number) => {
  if (Number.isNaN(first)) {
    first = at;
    levelSince = at;
  }
};

const api = await startCapacityApiServer(
  { workers: 1, serviceMs: 1, queue: 0 },
  {
    admitted(inFlight, at) {
      arrived(at);
      step(inFlight, at);
    },
    answered(body, arrivedAt, inFlight, at) {
      step(inFlight, at);
      last = at;
      accepted++;
      const parsed: unknown = JSON.parse(body);
      rows += Array.isArray(parsed) ? parsed.length : 1;
      if (samples === latencies.length && samples < MAX_SAMPLES) {
        const grown = new Float64Array(Math.min(MAX_SAMPLES, samples * 2));
        grown.set(latencies);
        latencies = grown;
      }
      if (samples < latencies.length) latencies[samples++] = at - arrivedAt;
    },
    refused(_inFlight, at) {
      arrived(at);
      last = Math.max(Number.isNaN(last) ? at : last, at);
      refused++;
    },
  },
);

function reset(): void {
  samples = 0;
  accepted = 0;
  refused = 0;
  rows = 0;
  first = Number.NaN;
  last = Number.NaN;
  area = 0;
  level = api.inFlight;
  maxInFlight = level;
}

function report(): CapacityReport {
  const sorted = latencies.slice(0, samples).sort();
  const q = (p: number) => (samples === 0 ? Number.NaN : sorted[Math.min(samples - 1, Math.ceil(p * samples) - 1)]);
  const spanMs = Number.isNaN(first) ? 0 : last - first;
  const cpu = process.cpuUsage();
  return {
    requests: accepted + refused,
    accepted,
    refused,
    rows,
    spanMs,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    meanInFlight: spanMs > 0 ? (area + level * Math.max(0, last - levelSince)) / spanMs : 0,
    maxInFlight,
    cpuMicros: cpu.user + cpu.system,
  };
}

process.on('message', (msg: CapacityCommand) => {
  if (msg.type === 'configure') {
    api.configure(msg.model);
    reset();
    process.send?.({ ok: true });
  } else if (msg.type === 'reset') {
    reset();
    process.send?.({ ok: true });
  } else if (msg.type === 'report') process.send?.(report());
});
// The parent going away (even by kill -9) closes the channel: the API must never outlive its bench.
process.on('disconnect', () => void api.close().finally(() => process.exit(0)));
process.send?.({ url: api.url });
