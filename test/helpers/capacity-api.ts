import { startCapacityApiServer, type CapacityModel } from '../../src/demo/sandbox/capacity-api.js';

/**
 * The capacity-model API (src/demo/sandbox/capacity-api.ts: `workers` × `serviceMs`, a FIFO queue
 * of `queue`, 503 beyond it) with a recorder for tests: a timeline of in-flight counts as the
 * server saw them, and the ids of every row it took. `setWorkers` moves the knee mid-run.
 */
export type CapacityApiOptions = CapacityModel;

export interface TimelinePoint {
  /** performance.now() at the server. */
  readonly at: number;
  /** Requests admitted (working or queued) right after this event. */
  readonly inFlight: number;
  readonly event: 'start' | 'end' | 'refused';
}

export interface CapacityApi extends AsyncDisposable {
  readonly url: string;
  readonly timeline: TimelinePoint[];
  /** Every row id taken (a row sent twice appears twice). */
  readonly ids: string[];
  readonly refused: number;
  setWorkers(k: number): void;
  /** Answer the next `count` requests 429 with this Retry-After (the other lanes go on as usual). */
  refuseNext(count: number, retryAfter: string): void;
  close(): Promise<void>;
}

export async function startCapacityApi(o: CapacityApiOptions): Promise<CapacityApi> {
  const timeline: TimelinePoint[] = [];
  const ids: string[] = [];
  let refused = 0;
  const server = await startCapacityApiServer(o, {
    admitted: (inFlight, at) => timeline.push({ at, inFlight, event: 'start' }),
    answered: (body, _arrivedAt, inFlight, at) => {
      const parsed: unknown = JSON.parse(body);
      for (const row of Array.isArray(parsed) ? parsed : [parsed]) ids.push(String((row as { id: unknown }).id));
      timeline.push({ at, inFlight, event: 'end' });
    },
    refused: (inFlight, at) => {
      refused++;
      timeline.push({ at, inFlight, event: 'refused' });
    },
  });
  return {
    url: server.url,
    timeline,
    ids,
    get refused() {
      return refused;
    },
    setWorkers: (k) => server.configure({ workers: k }),
    refuseNext: (count, retryAfter) => server.refuseNext(count, retryAfter),
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** The mean in-flight count over [from, to), weighted by time (the timeline is a step function). */
export function meanInFlight(timeline: readonly TimelinePoint[], from: number, to: number): number {
  let area = 0;
  let level = 0;
  let at = from;
  for (const p of timeline) {
    if (p.at >= to) break;
    if (p.at > at) {
      area += level * (p.at - at);
      at = p.at;
    }
    level = p.inFlight;
  }
  area += level * Math.max(0, to - at);
  return to > from ? area / (to - from) : 0;
}
