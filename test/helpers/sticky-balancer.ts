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
}

/** The demo's sticky balancer in front of recording sinks, so a test can script faults and read requests. */
export function startStickyBalancer(opts: TestBalancerOptions): Promise<StickyBalancer> {
  return startBalancerWith(opts.backends, startHttpSink, opts);
}
