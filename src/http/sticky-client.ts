import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import type { AdaptiveLimit, AttemptOutcome } from './adaptive-limit.js';
import { errorCode, errorMessage } from '../errors.js';
import { type CookieState, cookieStatesFor, keepsCookiesFrom, type StickyMode } from './cookie-lanes.js';
import { AttemptWatch, dispatchOnce } from './dispatch-once.js';
import { LanePlacement, type LaneSeat, type PlacementReport } from './lane-placement.js';
import { RateLimiter } from './rate-limit.js';
import type { RetryAfterBrake } from './retry-after-brake.js';
import { Retry, retry, retrying } from '../retry/retrying.js';
import { classifyError, classifyStatus, parseRetryAfter, type RetryPolicy } from './retry-policy.js';

/** Answers that say the API (or its balancer) is over capacity: the adaptive limit backs off. */
const OVERLOAD = new Set([429, 502, 503, 504]);

export interface HttpClientConfig {
  readonly url: string;
  readonly method: string;
  /** Sent on every request; values may be secrets and are never logged (see redact.ts). */
  readonly headers: Readonly<Record<string, string>>;
  readonly sticky: StickyMode;
  /** A deadline for each attempt as a whole (not an idle timeout): a timed-out attempt is retried. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /** Requests per second across all lanes, or undefined for no limit. */
  readonly rate?: number;
  /** A response header that names the target that answered (for the summary), if the API has one. */
  readonly targetHeader?: string;
  /** After this many retryable failures in a row a lane drops its cookies to be placed afresh. */
  readonly laneFailureLimit?: number;
  /** A body larger than this is cut into pieces before sending (the HTTP sink's business). */
  readonly maxBodyBytes?: number;
  /** `--sticky lane`: a lane re-asks the balancer for a target after this long; 0 or absent = never. */
  readonly restickAfterMs?: number;
}

export interface SendResult {
  readonly ok: boolean;
  readonly status: number | null;
  /** A short reason when not ok: the API's answer (truncated) or the network error. */
  readonly error: string;
  readonly attempts: number;
}

export interface LaneReport {
  readonly lane: number;
  readonly requests: number;
  /** Whether the lane holds a balancer cookie (its value is never reported: cookies are secrets). */
  readonly sticky: boolean;
  readonly target: string | undefined;
}

interface Lane {
  readonly id: number;
  readonly client: Client;
  /** The lane's deadline timer and stop listener, made once (see dispatch-once.ts). */
  readonly watch: AttemptWatch;
  readonly cookies: CookieState | null;
  /** `--sticky lane`: where the lane stands in the fleet, and whether it is to move (lane-placement.ts). */
  readonly seat: LaneSeat | undefined;
  /**
   * The lane's request, made once: each attempt writes its body and idempotency key into it, and
   * its header list is made again only when the lane's Cookie header changes (see #attempt).
   */
  readonly request: LaneRequest;
  /** The Cookie header `request.headers` carries ('' for none). */
  sentCookie: string;
  requests: number;
  failuresInARow: number;
  target: string | undefined;
}

/** What undici is given for an attempt; it copies every field as it takes the request (synchronously). */
interface LaneRequest {
  readonly path: string;
  readonly method: string;
  headers: string[];
  body: string | Uint8Array | undefined;
}

/**
 * The HTTP client of direct mode and of the Lambda forwarder alike. A lane is one keep-alive
 * connection (an undici Client, pipelining 1) with its own cookie jar under `--sticky lane`:
 * a load balancer that routes each request independently spreads new lanes over its targets,
 * and the sticky cookie then keeps each lane on the target it got. Lanes are made on demand,
 * so the number in use follows whatever concurrency the caller allows at the moment.
 */
export class StickyHttpClient {
  readonly stats = { requests: 0, retries: 0, targets: new Set<string>() };
  readonly #origin: string;
  readonly #path: string;
  readonly #baseHeaders: string[];
  /** Where the idempotency key sits in a lane's header list. */
  readonly #keyAt: number;
  readonly #free: Lane[] = [];
  readonly #all: Lane[] = [];
  readonly #cookiesFor: () => CookieState | null;
  readonly #rate: RateLimiter | undefined;
  readonly #placement: LanePlacement | undefined;
  readonly #bodyType: string | undefined;
  readonly #onRetry = (): void => {
    this.stats.retries++;
  };

  /**
   * `rate`: a limiter shared with other clients, in place of one made from config.rate.
   * `adaptive`: `--concurrency auto`'s limiter, told of every attempt (and its Retry-After brake honoured).
   * `brake`: a Retry-After hold shared with other clients (`forward`'s pollers), whatever the concurrency.
   */
  constructor(
    private readonly config: HttpClientConfig,
    rate?: RateLimiter,
    private readonly adaptive?: AdaptiveLimit,
    private readonly brake?: RetryAfterBrake,
  ) {
    const url = new URL(config.url);
    this.#origin = url.origin;
    this.#path = `${url.pathname}${url.search}`;
    this.#cookiesFor = cookieStatesFor(config.sticky, config.url);
    this.#placement =
      config.sticky === 'lane'
        ? new LanePlacement({ restickAfterMs: config.restickAfterMs ?? 0, targetHeader: config.targetHeader })
        : undefined;
    this.#rate = rate ?? (config.rate ? new RateLimiter(config.rate) : undefined);
    const hasType = Object.keys(config.headers).some((h) => h.toLowerCase() === 'content-type');
    this.#bodyType = hasType ? undefined : 'application/json';
    this.#baseHeaders = Object.entries(config.headers).flat();
    this.#keyAt = this.#baseHeaders.length + 1;
  }

  /** Sends one body, retrying as the policy says, on one lane from start to end. */
  async send(body: string | Uint8Array, idempotencyKey: string, signal?: AbortSignal): Promise<SendResult> {
    const lane = this.#free.pop() ?? this.#newLane();
    try {
      const first = await this.#attempt(lane, body, idempotencyKey, signal, 1);
      if (!(first instanceof Retry)) return first;
      // Only a retry enters the wrapper: a first success costs what the inline loop did.
      const attempt = (n: number) => this.#attempt(lane, body, idempotencyKey, signal, n);
      return await retrying(this.config.retry, attempt, signal, this.#onRetry, { first });
    } finally {
      this.#free.push(lane);
    }
  }

  lanes(): LaneReport[] {
    return this.#all.map((l) => ({
      lane: l.id,
      requests: l.requests,
      sticky: l.cookies?.has('AWSALB') === true || l.cookies?.has('AWSALBAPP') === true,
      target: l.target,
    }));
  }

  /** Lanes per target and the lanes re-placed (`--sticky lane` only). */
  placement(): PlacementReport | undefined {
    return this.#placement?.report();
  }

  async close(): Promise<void> {
    for (const l of this.#all) l.watch.close();
    await Promise.all(this.#all.map((l) => l.client.close().catch(() => l.client.destroy())));
  }

  #newLane(): Lane {
    const { timeoutMs } = this.config;
    const client = new Client(this.#origin, {
      pipelining: 1,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: Math.min(timeoutMs, 10_000) },
    });
    const cookies = this.#cookiesFor();
    const lane: Lane = {
      id: this.#all.length,
      client,
      watch: new AttemptWatch(timeoutMs),
      cookies,
      seat: cookies ? this.#placement?.seat(cookies) : undefined,
      request: { path: this.#path, method: this.config.method, headers: this.#headersWith(''), body: undefined },
      sentCookie: '',
      requests: 0,
      failuresInARow: 0,
      target: undefined,
    };
    this.#all.push(lane);
    return lane;
  }

  /** One attempt on the lane: the answer, or a `Retry` that `retrying` turns into a wait and another go. */
  async #attempt(
    lane: Lane,
    body: string | Uint8Array,
    idempotencyKey: string,
    signal: AbortSignal | undefined,
    attempt: number,
  ): Promise<SendResult | Retry<SendResult>> {
    const { targetHeader } = this.config;
    const cookies = lane.cookies;
    signal?.throwIfAborted();
    if (this.#rate) await this.#rate.take(signal);
    // A Retry-After any lane got holds every lane's next attempt (bounded: the brake is capped),
    // and with a shared brake every client's.
    for (let i = 0; i < 100; i++) {
      const wait = Math.max(this.adaptive?.waitMs() ?? 0, this.brake?.waitMs() ?? 0);
      if (wait <= 0) break;
      await sleep(wait, undefined, { signal });
    }
    const release = cookies?.unplaced ? await cookies.placement(signal) : undefined;
    const now = Date.now();
    lane.seat?.beforeRequest(now); // a lane moves only here, between two requests
    const cookie = cookies?.header(now) ?? '';
    // The header list is the lane's own, made again only when its Cookie header changed (a new
    // jar answer, a drop, an expiry): a list built per request cost a spread and two pushes.
    const request = lane.request;
    if (cookie !== lane.sentCookie) {
      request.headers = this.#headersWith(cookie);
      lane.sentCookie = cookie;
    }
    request.headers[this.#keyAt] = idempotencyKey;
    request.body = body;
    lane.requests++;
    this.stats.requests++;
    const startedAt = this.adaptive?.begin();
    let outcome: AttemptOutcome = 'other';
    let retryAfterMs: number | undefined;
    try {
      const answer = dispatchOnce(lane.client, request, lane.watch, signal);
      // undici has copied what it needs: an idle lane must not hold a body (a view of a whole page).
      request.body = undefined;
      const res = await answer;
      if (OVERLOAD.has(res.status)) {
        outcome = 'overload';
        retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
        if (retryAfterMs !== undefined) this.brake?.hold(retryAfterMs);
      } else if (res.status < 500) outcome = 'ok'; // an answer, even a refusal, tells the API's latency
      const target = targetHeader ? res.headers[targetHeader] : undefined;
      if (keepsCookiesFrom(res.status)) {
        const at = Date.now();
        cookies?.update(res.headers['set-cookie'], at, cookie);
        lane.seat?.answered(typeof target === 'string' ? target : undefined, at);
      }
      if (typeof target === 'string') this.#noteTarget(lane, target);
      const verdict = classifyStatus(res.status);
      if (verdict === 'ok') {
        lane.failuresInARow = 0;
        return { ok: true, status: res.status, error: '', attempts: attempt };
      }
      const text = res.text.slice(0, 300).replace(/\s+/g, ' ').trim();
      const last = { ok: false, status: res.status, error: text || `HTTP ${res.status}`, attempts: attempt };
      if (verdict === 'permanent') return last;
      if (res.status >= 500) this.#laneFailed(lane);
      // Request headers too large: our cookies are the part that grows; start the lane afresh.
      if (res.status === 431) cookies?.drop();
      return retry(last, retryAfterMs ?? parseRetryAfter(res.headers['retry-after'], Date.now()));
    } catch (err) {
      if (signal?.aborted) throw err;
      // A timeout or a connection refused or reset: the TCP-style limiter counts it as a loss.
      outcome = 'overload';
      const last = { ok: false, status: null, error: errorMessage(err), attempts: attempt };
      if (classifyError(errorCode(err)) === 'permanent') return last;
      this.#laneFailed(lane);
      return retry(last);
    } finally {
      release?.();
      if (startedAt !== undefined) this.adaptive?.end(startedAt, outcome, retryAfterMs);
    }
  }

  /** A lane's header list: the configured headers, the idempotency key's slot, the body type, the cookie. */
  #headersWith(cookie: string): string[] {
    const headers = [...this.#baseHeaders, 'idempotency-key', ''];
    if (this.#bodyType) headers.push('content-type', this.#bodyType);
    if (cookie) headers.push('cookie', cookie);
    return headers;
  }

  /** A lane whose target keeps failing forgets its cookies, so the balancer can re-place it. */
  #laneFailed(lane: Lane): void {
    lane.failuresInARow++;
    if (lane.failuresInARow < (this.config.laneFailureLimit ?? 3)) return;
    const cookies = lane.cookies;
    const now = Date.now();
    const fleeing = cookies?.header(now) ?? '';
    lane.seat?.leaving(now);
    cookies?.drop();
    lane.failuresInARow = 0;
    if (!cookies || cookies.shared) return;
    // Placed afresh, the balancer may put the lane right back on the failing target (round robin
    // does, one time in a few). A lane whose last answer was a success holds a cookie for a target
    // that works: borrowing it moves this lane there on its next attempt, whatever the rotation.
    const donor = this.#all.find((l) => {
      if (l === lane || l.failuresInARow !== 0 || !l.cookies) return false;
      const h = l.cookies.header(now);
      return h !== '' && h !== fleeing;
    });
    if (donor?.cookies) cookies.adopt(donor.cookies, now);
  }

  #noteTarget(lane: Lane, target: string): void {
    if (lane.target !== target) {
      lane.target = target;
      this.stats.targets.add(target);
    }
  }
}
