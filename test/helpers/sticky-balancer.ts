import {
  startBalancerWith,
  type BalancerOptions,
  type StickyBalancer as Balancer,
} from '../../src/demo/sandbox/sticky-balancer.js';
import { startHttpSink, type HttpSink, type HttpSinkOptions } from './http-sink.js';

export type { RouteStat } from '../../src/demo/sandbox/sticky-balancer.js';

/** The balancer with recording sinks as its backends. */
export type StickyBalancer = Balancer<HttpSink>;

export interface TestBalancerOptions extends BalancerOptions {
  /** How many default sinks (named b1, b2…), or each one's options (fault scripts included). */
  backends: number | HttpSinkOptions[];
  /**
   * Targets out of rotation at the start (a server down, or not yet added when the API scales
   * out); bring them in with `upAfter`. Every backend names itself in an `x-backend` header.
   */
  down?: readonly string[];
}

/** The demo's sticky balancer in front of recording sinks, so a test can script faults and read requests. */
export async function startStickyBalancer(opts: TestBalancerOptions): Promise<StickyBalancer> {
  const lb = await startBalancerWith(opts.backends, startHttpSink, opts);
  for (const name of opts.down ?? []) lb.setHealthy(name, false);
  return lb;
}

/**
 * Puts a target into rotation after `ms` (back from down, or newly added: to a balancer both are a
 * target it may now place unstuck requests on). Returns a cancel for the timer.
 */
export function upAfter(lb: StickyBalancer, name: string, ms: number): () => void {
  const t = setTimeout(() => lb.setHealthy(name, true), ms);
  return () => clearTimeout(t);
}

/** Takes a target out of rotation after `ms` (it answers 503 if still reached). */
export function downAfter(lb: StickyBalancer, name: string, ms: number): () => void {
  const t = setTimeout(() => lb.setHealthy(name, false), ms);
  return () => clearTimeout(t);
}

/**
 * Lanes per target at the end, from the backends' records: each client connection counts for
 * the backend that answered its last request (2xx) at or after `since`.
 */
export function lanesAtEnd(lb: StickyBalancer, since = 0): Record<string, number> {
  const last = new Map<number, { at: number; backend: string }>();
  for (const b of lb.backends)
    for (const r of b.requests) {
      if (r.status < 200 || r.status >= 300 || r.at < since) continue;
      const prev = last.get(r.socketId);
      if (!prev || r.at >= prev.at) last.set(r.socketId, { at: r.at, backend: r.backend });
    }
  const out: Record<string, number> = Object.fromEntries(lb.backends.map((b) => [b.name, 0]));
  for (const { backend } of last.values()) out[backend] = (out[backend] ?? 0) + 1;
  return out;
}
