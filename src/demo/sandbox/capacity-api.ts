import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An API with a capacity model: `workers` requests are worked on at once, `serviceMs` each; up to
 * `queue` more wait in line (first come, first served); beyond that it answers 503 at once (with a
 * Retry-After if `retryAfter` is set). The knee is `workers` in flight: past it latency grows
 * (queueing), past `workers + queue` requests are refused. `configure` moves the knee mid-run.
 *
 * It keeps no per-request record itself: whoever starts it (the tests' recording helper, the
 * adaptive bench's server process) observes it through `events`, so a bench run of millions of
 * requests holds no timeline and a test keeps every event.
 */
export interface CapacityModel {
  workers: number;
  serviceMs: number;
  queue: number;
  /** A Retry-After value (seconds, as text) on the 503s of a full queue. */
  retryAfter?: string;
}

export interface CapacityEvents {
  /** A request was admitted (working or queued); `inFlight` counts it. */
  admitted?(inFlight: number, at: number): void;
  /** A request was worked on and answered 200: its body, when it arrived, and the admitted count after it left. */
  answered?(body: string, arrivedAt: number, inFlight: number, at: number): void;
  /** A request was refused (503 of a full queue, or a scripted 429). */
  refused?(inFlight: number, at: number, status: number): void;
}

export interface CapacityApiServer extends AsyncDisposable {
  readonly url: string;
  /** Requests admitted now (working + queued). */
  readonly inFlight: number;
  /** Changes the model; a larger `workers` starts queued requests at once. */
  configure(model: Partial<CapacityModel>): void;
  /** Answer the next `count` requests 429 with this Retry-After (the other lanes go on as usual). */
  refuseNext(count: number, retryAfter: string): void;
  close(): Promise<void>;
}

const OK = '{"ok":true}';
const OVER = '{"error":"over capacity"}';

export async function startCapacityApiServer(
  initial: CapacityModel,
  events: CapacityEvents = {},
): Promise<CapacityApiServer> {
  const model: CapacityModel = { ...initial };
  let working = 0;
  const waiting: (() => void)[] = [];
  let throttle: { left: number; retryAfter: string } | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const startNext = () => {
    while (working < model.workers && waiting.length > 0) {
      working++;
      (waiting.shift() as () => void)();
    }
  };

  const handle = (res: ServerResponse, body: string, arrivedAt: number) => {
    const refuse = (status: number, retryAfter: string | undefined) => {
      events.refused?.(working + waiting.length, performance.now(), status);
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
      });
      res.end(OVER);
    };
    if (throttle && throttle.left > 0) {
      throttle.left--;
      return refuse(429, throttle.retryAfter);
    }
    if (working >= model.workers && waiting.length >= model.queue) return refuse(503, model.retryAfter);
    const work = () => {
      const t = setTimeout(() => {
        timers.delete(t);
        working--;
        events.answered?.(body, arrivedAt, working + waiting.length, performance.now());
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(OK);
        startNext();
      }, model.serviceMs);
      timers.add(t);
    };
    waiting.push(work);
    startNext();
    events.admitted?.(working + waiting.length, performance.now());
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Arrival: the request's head has been read; queueing and work are counted from here.
    const arrivedAt = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(res, Buffer.concat(chunks).toString('utf8'), arrivedAt));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const t of timers) clearTimeout(t); // queued answers must not keep the process alive
    timers.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}/rows`,
    get inFlight() {
      return working + waiting.length;
    },
    configure(m) {
      Object.assign(model, m);
      startNext();
    },
    refuseNext(count, retryAfter) {
      throttle = { left: count, retryAfter };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
