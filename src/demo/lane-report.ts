import type { RouteStat, StickyBalancer } from './sandbox/sticky-balancer.js';

export interface LaneSpread {
  connections: number;
  /** Connections served by exactly one backend. */
  stuck: number;
  /** Backend name → connections whose requests all went there. */
  lanesPerBackend: Record<string, number>;
  requests: number;
  withCookie: number;
  sessions: number;
}

/** How the client's connections spread over the balancer's targets, from the balancer's records. */
export function laneSpread(lb: StickyBalancer): LaneSpread {
  const byConn = new Map<number, RouteStat[]>();
  for (const r of lb.routes()) byConn.set(r.socketId, [...(byConn.get(r.socketId) ?? []), r]);
  const lanesPerBackend: Record<string, number> = Object.fromEntries(lb.backends.map((b) => [b.name, 0]));
  let stuck = 0;
  let requests = 0;
  let withCookie = 0;
  for (const routes of byConn.values()) {
    if (routes.length === 1) {
      stuck++;
      const only = routes[0] as RouteStat;
      lanesPerBackend[only.backend] = (lanesPerBackend[only.backend] ?? 0) + 1;
    }
    for (const r of routes) {
      requests += r.requests;
      withCookie += r.withCookie;
    }
  }
  const sessions = lb.backends.reduce((n, b) => n + b.counts.sessions, 0);
  return { connections: byConn.size, stuck, lanesPerBackend, requests, withCookie, sessions };
}

export function describeSpread(s: LaneSpread): string {
  const spread = Object.entries(s.lanesPerBackend)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  const stickiness =
    s.stuck === s.connections
      ? `every one of the ${s.connections} lanes stuck to one target (lanes per target: ${spread})`
      : `${s.connections - s.stuck} of ${s.connections} connections were spread over several targets`;
  return [
    `  targets: ${stickiness}`,
    `  cookies: ${s.withCookie} of ${s.requests} requests carried the balancer cookie; the API built ${s.sessions} sessions`,
  ].join('\n');
}

/** Indents a child's output under the demo's numbered steps. */
export function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
