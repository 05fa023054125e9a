import type { PlacementReport } from '../http/lane-placement.js';

/**
 * Where a forwarder's sticky lanes stand (lane-placement.ts), for those who cannot see a summary
 * line: `forward` adds its pollers' placements into one, and a Lambda container logs its own
 * once a minute. Targets are named alike in every client (the --target-header value, or the same
 * short hash of the same cookie value), so lanes add up per target; cookie values never appear.
 */

/** Several clients' placements as one (`forward`'s pollers); undefined when none places lanes. */
export function mergePlacements(reports: readonly (PlacementReport | undefined)[]): PlacementReport | undefined {
  const given = reports.filter((r): r is PlacementReport => r !== undefined);
  const first = given[0];
  if (!first) return undefined;
  const lanes = new Map<string, number>();
  for (const r of given) for (const [t, n] of Object.entries(r.lanesPerTarget)) lanes.set(t, (lanes.get(t) ?? 0) + n);
  const sum = (pick: (r: PlacementReport) => number) => given.reduce((n, r) => n + pick(r), 0);
  return {
    // A poller that never had an answer has told no targets apart: any other poller's way holds.
    by: given.find((r) => r.by !== 'none')?.by ?? first.by,
    // Most lanes first, as each client's report; ties by name, so the line reads alike run to run.
    lanesPerTarget: Object.fromEntries([...lanes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    replaced: { uneven: sum((r) => r.replaced.uneven), restickAfter: sum((r) => r.replaced.restickAfter) },
    landedOnSame: sum((r) => r.landedOnSame),
    restickAfterMs: first.restickAfterMs,
  };
}

/** A Lambda container says where its lanes stand at most this often. */
export const LANES_LOG_EVERY_MS = 60_000;

/**
 * The Lambda's `lanes` line: at most one a minute per container, never one per request. The first
 * comes once the container has been forwarding for a minute (a short-lived container has little to
 * tell and would only add a line per cold start); a container whose lanes hold no balancer cookie
 * and moved none says nothing.
 */
export class LanesLog {
  #next: number | undefined;

  constructor(private readonly everyMs = LANES_LOG_EVERY_MS) {}

  /** The line to log after an invocation ending at `now`, or undefined. */
  after(report: PlacementReport | undefined, invocations: number, now: number): string | undefined {
    if (this.#next === undefined) this.#next = now + this.everyMs;
    if (now < this.#next || report === undefined) return undefined;
    const moved = report.replaced.uneven + report.replaced.restickAfter;
    if (Object.keys(report.lanesPerTarget).length === 0 && moved === 0) return undefined;
    this.#next = now + this.everyMs;
    return JSON.stringify({
      level: 'info',
      time: new Date(now).toISOString(),
      event: 'lanes',
      by: report.by,
      lanesPerTarget: report.lanesPerTarget,
      replaced: report.replaced,
      landedOnSame: report.landedOnSame,
      restickAfterMs: report.restickAfterMs,
      invocations,
    });
  }
}
