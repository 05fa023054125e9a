import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A test API with a capacity model: `workers` requests are worked on at once, `serviceMs` each;
 * up to `queue` more wait in line (first come, first served); beyond that it answers 503 at once
 * (with a Retry-After if `retryAfter` is set). `setWorkers` moves the knee mid-run. It records a
 * timeline of in-flight counts as the server saw them, and the ids of every row it took.
 */
export interface CapacityApiOptions {
  workers: number;
  serviceMs: number;
  queue: number;
  /** A Retry-After value (seconds, as text) on the 503s of a full queue. */
  retryAfter?: string;
}

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
  let workers = o.workers;
  let working = 0;
  const waiting: (() => void)[] = [];
  const timeline: TimelinePoint[] = [];
  const ids: string[] = [];
  let refused = 0;
  let throttle: { left: number; retryAfter: string } | undefined;
  const mark = (event: TimelinePoint['event']) =>
    timeline.push({ at: performance.now(), inFlight: working + waiting.length, event });

  const startNext = () => {
    while (working < workers && waiting.length > 0) {
      working++;
      (waiting.shift() as () => void)();
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const refuse = (status: number, retryAfter: string | undefined) => {
      refused++;
      mark('refused');
      res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter });
      res.end('{"error":"over capacity"}');
    };
    if (throttle && throttle.left > 0) {
      throttle.left--;
      return refuse(429, throttle.retryAfter);
    }
    if (working >= workers && waiting.length >= o.queue) return refuse(503, o.retryAfter);
    const work = () => {
      setTimeout(() => {
        const parsed: unknown = JSON.parse(body);
        for (const row of Array.isArray(parsed) ? parsed : [parsed]) ids.push(String((row as { id: unknown }).id));
        working--;
        mark('end');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
        startNext();
      }, o.serviceMs);
    };
    waiting.push(work);
    startNext();
    mark('start');
    void req;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}/rows`,
    timeline,
    ids,
    get refused() {
      return refused;
    },
    setWorkers(k) {
      workers = k;
      startNext();
    },
    refuseNext(count, retryAfter) {
      throttle = { left: count, retryAfter };
    },
    close,
    [Symbol.asyncDispose]: close,
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
