import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  cookieValue,
  listen,
  socketIdOf,
  startApiBackend,
  type ApiBackend,
  type ApiBackendOptions,
  type Listening,
  type Via,
} from './api-backend.js';

/**
 * A stand-in for an AWS ALB with duration-based stickiness, in front of API backends.
 *
 * What it mimics: without a valid cookie each request is placed by round robin on its own (a
 * keep-alive connection does not pin a target); every response (re-)issues AWSALB and AWSALBCORS
 * with a fresh Expires; a cookie that does not decode, or names an unhealthy target, gets a new
 * target and a new cookie; with every target unhealthy it fails open, as an ALB does. Backends
 * run in-process (no proxy hop), so a demo with three of them stays cheap on a small machine.
 */
export interface BalancerOptions {
  host?: string;
  port?: number;
  /** Default 'AWSALB'; the CORS twin is this name + 'CORS'. */
  cookieName?: string;
  /** Also issue the CORS twin (SameSite=None; Secure), as an ALB does. Default true. */
  cors?: boolean;
  /** Cookie lifetime, refreshed on every response. Default 86400 (one day). */
  durationSec?: number;
  /** Placement of unstuck requests; round robin is the ALB default and the only one modelled. */
  algorithm?: 'round_robin';
}

export interface StickyBalancerOptions extends BalancerOptions {
  /** How many default backends (named b1, b2…), or each one's options. */
  backends: number | ApiBackendOptions[];
}

/** What the balancer needs of a backend: an ApiBackend, or a test sink built on one. */
export type Target = Pick<ApiBackend, 'name' | 'healthy' | 'setHealthy' | 'handle' | 'close'>;

/** Requests of one client connection served by one backend. */
export interface RouteStat {
  socketId: number;
  backend: string;
  requests: number;
  /** Of those, how many carried a balancer cookie (valid or not). */
  withCookie: number;
}

export interface StickyBalancer<B extends Target = ApiBackend> extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly backends: B[];
  /** One entry per (client connection, backend) pair, grouped by connection. */
  routes(): RouteStat[];
  /** Requests routed to each backend, by name. */
  perBackend(): Record<string, number>;
  /** Takes a backend out of (or back into) rotation; an unhealthy one also answers 503 if reached. */
  setHealthy(name: string, healthy: boolean): void;
  close(): Promise<void>;
}

/** Starts the backends, then the balancer in front of them. */
export function startStickyBalancer(opts: StickyBalancerOptions): Promise<StickyBalancer> {
  return startBalancerWith(opts.backends, startApiBackend, opts);
}

/**
 * Starts backends with `start` (named b1, b2… unless named), then the balancer in front of them;
 * the balancer owns them from then on (it closes them). Tests start their recording sinks this way.
 */
export async function startBalancerWith<O extends { name?: string; host?: string }, B extends Target>(
  specs: number | O[],
  start: (opts: O) => Promise<B>,
  opts: BalancerOptions,
): Promise<StickyBalancer<B>> {
  const host = opts.host ?? '127.0.0.1';
  const list = typeof specs === 'number' ? Array.from({ length: specs }, () => ({}) as O) : specs;
  if (list.length === 0) throw new RangeError('a sticky balancer needs at least one backend');
  const backends = await Promise.all(list.map((o, i) => start({ host, ...o, name: o.name ?? `b${i + 1}` })));
  const balancer = new Balancer(backends, opts);
  try {
    await balancer.start(host, opts.port ?? 0);
  } catch (err) {
    await Promise.all(backends.map((b) => b.close()));
    throw err;
  }
  return balancer;
}

class Balancer<B extends Target> implements StickyBalancer<B> {
  url = '';
  port = 0;
  readonly #cookie: string;
  readonly #cors: boolean;
  readonly #durationMs: number;
  /** Opaque cookie value of each backend, and the way back. */
  readonly #values: string[];
  readonly #byValue: Map<string, number>;
  /** socketId → per-backend stats (indexed like backends). */
  readonly #routes = new Map<number, (RouteStat | undefined)[]>();
  readonly #served: number[];
  #next = 0;
  /** Set-Cookie headers change once a second (Expires has second precision), so they are cached. */
  #viaSecond = -1;
  #via: Via[] = [];
  #listening: Listening | undefined;

  constructor(
    readonly backends: B[],
    opts: BalancerOptions,
  ) {
    this.#cookie = opts.cookieName ?? 'AWSALB';
    this.#cors = opts.cors ?? true;
    this.#durationMs = (opts.durationSec ?? 86_400) * 1000;
    // Opaque to clients like the real cookie, but decodable here: base64 of a tagged name.
    this.#values = backends.map((b) => Buffer.from(`alb-sim:${b.name}`).toString('base64'));
    this.#byValue = new Map(this.#values.map((v, i) => [v, i]));
    this.#served = backends.map(() => 0);
  }

  async start(host: string, port: number): Promise<void> {
    this.#listening = await listen(host, port, (req, res, body) => this.#route(req, res, body));
    this.url = this.#listening.url;
    this.port = this.#listening.port;
  }

  #route(req: IncomingMessage, res: ServerResponse, body: string): void {
    const header = req.headers.cookie;
    let value = cookieValue(header, this.#cookie);
    if (value === undefined && this.#cors) value = cookieValue(header, `${this.#cookie}CORS`);
    const stuck = value === undefined ? undefined : this.#byValue.get(value);
    const i = stuck !== undefined && this.backends[stuck].healthy ? stuck : this.#pick();
    this.#note(socketIdOf(req.socket), i, value !== undefined);
    this.backends[i].handle(req, res, body, this.#viaFor(i));
  }

  /** Round robin over healthy backends; with none healthy, over all (an ALB fails open). */
  #pick(): number {
    const n = this.backends.length;
    for (let k = 0; k < n; k++) {
      const i = this.#next++ % n;
      if (this.backends[i].healthy) return i;
    }
    return this.#next++ % n;
  }

  #note(socketId: number, i: number, withCookie: boolean): void {
    this.#served[i]++;
    let perBackend = this.#routes.get(socketId);
    if (!perBackend) {
      perBackend = [];
      this.#routes.set(socketId, perBackend);
    }
    perBackend[i] ??= { socketId, backend: this.backends[i].name, requests: 0, withCookie: 0 };
    const stat = perBackend[i];
    stat.requests++;
    if (withCookie) stat.withCookie++;
  }

  #viaFor(i: number): Via {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.#viaSecond) {
      this.#viaSecond = second;
      const expires = new Date(second * 1000 + this.#durationMs).toUTCString();
      this.#via = this.#values.map((v) => {
        const headers = ['set-cookie', `${this.#cookie}=${v}; Expires=${expires}; Path=/`];
        if (this.#cors)
          headers.push('set-cookie', `${this.#cookie}CORS=${v}; Expires=${expires}; Path=/; SameSite=None; Secure`);
        // A target that drops the connection is reported to the client as an ALB would: 502.
        const reset = (res: ServerResponse) => {
          const html = '<html><body><h1>502 Bad Gateway</h1></body></html>';
          res
            .writeHead(502, ['content-type', 'text/html', 'content-length', String(html.length), ...headers])
            .end(html);
        };
        return { headers, reset };
      });
    }
    return this.#via[i];
  }

  routes(): RouteStat[] {
    const out: RouteStat[] = [];
    for (const perBackend of this.#routes.values()) for (const s of perBackend) if (s) out.push({ ...s });
    return out;
  }

  perBackend(): Record<string, number> {
    return Object.fromEntries(this.backends.map((b, i) => [b.name, this.#served[i]]));
  }

  setHealthy(name: string, healthy: boolean): void {
    const backend = this.backends.find((b) => b.name === name);
    if (!backend) throw new RangeError(`no backend named ${name}`);
    backend.setHealthy(healthy);
  }

  async close(): Promise<void> {
    await this.#listening?.close();
    await Promise.all(this.backends.map((b) => b.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
