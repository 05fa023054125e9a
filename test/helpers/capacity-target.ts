import type { IncomingMessage, ServerResponse } from 'node:http';
import { cookieValue, type Via } from '../../src/demo/sandbox/api-backend.js';
import {
  type BalancerOptions,
  type StickyBalancer,
  startBalancerWith,
  type Target,
} from '../../src/demo/sandbox/sticky-balancer.js';

/**
 * A balancer target with a capacity model and a session cost: `workers` requests are worked on
 * at once, `serviceMs` each; a request without a SESSION cookie this target issued costs
 * `sessionMs` more of its worker's time (the target builds a session, and answers with its
 * cookie); up to `queue` more wait in line; beyond that it answers 503 at once. Behind the sticky
 * balancer, a client that keeps its cookies per lane pays the session once per lane, one that keeps
 * none pays it on every request: the throughput stickiness buys is `(serviceMs + sessionMs) / serviceMs`,
 * and the knee is the fleet's workers in all (targets × workers).
 */
export interface CapacityTargetOptions {
  name?: string;
  workers: number;
  serviceMs: number;
  sessionMs: number;
  queue: number;
}

export interface CapacityTarget extends Target {
  readonly counts: { requests: number; refused: number; sessions: number; rows: number };
  /** Every row id taken, in order (a row sent twice appears twice). */
  readonly ids: string[];
}

export function startCapacityTarget(o: CapacityTargetOptions & { name: string }): Promise<CapacityTarget> {
  const counts = { requests: 0, refused: 0, sessions: 0, rows: 0 };
  const ids: string[] = [];
  let healthy = true;
  let working = 0;
  let issued = 0;
  const waiting: (() => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const startNext = () => {
    while (working < o.workers && waiting.length > 0) {
      working++;
      (waiting.shift() as () => void)();
    }
  };
  const ownSession = (cookie: string | undefined) => {
    const v = cookieValue(cookie, 'SESSION');
    const k = v?.startsWith(`${o.name}-`) ? Number(v.slice(o.name.length + 1)) : Number.NaN;
    return Number.isInteger(k) && k >= 1 && k <= issued;
  };
  const answer = (res: ServerResponse, status: number, body: string, headers: readonly string[]) => {
    if (!res.destroyed) res.writeHead(status, ['content-type', 'application/json', ...headers]).end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string, via?: Via) => {
    counts.requests++;
    const fronted = via?.headers ?? [];
    if (!healthy || (working >= o.workers && waiting.length >= o.queue)) {
      counts.refused++;
      return answer(res, 503, '{"error":"over capacity"}', fronted);
    }
    waiting.push(() => {
      const session = ownSession(req.headers.cookie);
      const headers = [...fronted];
      if (!session) {
        counts.sessions++;
        headers.push('set-cookie', `SESSION=${o.name}-${++issued}; Path=/; HttpOnly`);
      }
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          working--;
          const parsed: unknown = JSON.parse(body);
          const rows = Array.isArray(parsed) ? parsed : [parsed];
          counts.rows += rows.length;
          for (const row of rows) ids.push(String((row as { id: unknown }).id));
          answer(res, 200, '{"ok":true}', headers);
          startNext();
        },
        o.serviceMs + (session ? 0 : o.sessionMs),
      );
      timers.add(timer);
    });
    startNext();
  };
  return Promise.resolve({
    name: o.name,
    counts,
    ids,
    get healthy() {
      return healthy;
    },
    setHealthy: (h: boolean) => {
      healthy = h;
    },
    handle,
    close: async () => {
      // Answers still being worked on must not keep the process alive.
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  });
}

/** The sticky balancer (round robin, AWSALB cookies) in front of `targets` capacity targets. */
export function startCapacityFleet(
  targets: number,
  o: CapacityTargetOptions,
  balancer: BalancerOptions = {},
): Promise<StickyBalancer<CapacityTarget>> {
  const specs = Array.from({ length: targets }, (_, i) => ({ ...o, name: o.name ?? `t${i + 1}` }));
  return startBalancerWith(specs, (spec) => startCapacityTarget({ ...spec, name: spec.name ?? 't' }), balancer);
}
