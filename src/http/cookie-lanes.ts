import { CookieJar, MemoryCookieStore } from 'tough-cookie';
import { allCookies, capCount, capHeader, COOKIE_LIMITS, heldPairs, oversized } from './cookie-limits.js';

export type StickyMode = 'lane' | 'shared' | 'off';

/** A Set-Cookie that deletes: it must reach the jar even when its name=value did not change. */
const DELETES = /;\s*max-age\s*=\s*(0|-)/i;

/** How long an identical Set-Cookie is recognised without the jar; it is fed at least this often. */
const REFRESH_MS = 1000;

/**
 * One cookie jar and the Cookie header it currently yields.
 *
 * An ALB re-issues AWSALB and AWSALBCORS with a fresh expiry on every response, so a jar
 * consulted per request costs ~100–200 µs of CPU here and halves requests/s. The jar is the
 * authority (RFC 6265 via tough-cookie: domain, path, expiry, Secure), but it runs only when a
 * response changes a cookie's name=value, or once a second; otherwise the cached header is sent.
 */
export class CookieState {
  readonly #store = new MemoryCookieStore();
  readonly #jar = new CookieJar(this.#store, { looseMode: true });
  #header = '';
  #signature = '';
  /** The name=value pairs of the last response, as sent: the common case repeats them exactly. */
  #lastPairs = '';
  /** The last Set-Cookie as it came (string or list): an identical one within REFRESH_MS changes nothing. */
  #lastRaw: string | readonly string[] = '';
  #refreshedAt = 0;
  /**
   * When the cached header must be made again without any answer changing it: the moment the first
   * cookie it carries expires (by the jar's own rule: Expires, or Max-Age from its last use).
   */
  #staleAt = Number.POSITIVE_INFINITY;

  /**
   * Shared by all lanes (`--sticky shared`): the first cookie wins (see update), and while none is
   * held one request at a time finds the target (see placement).
   */
  readonly shared: boolean;
  /** Whether an answer from a working target came since the start or the last drop. */
  #placed = false;
  #placing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    opts: { shared?: boolean } = {},
  ) {
    this.shared = opts.shared === true;
  }

  /** The Cookie header to send, or '' for none. */
  header(now: number): string {
    // The jar changes only when it is fed (update, drop, adopt), and each feed makes the header
    // again: between feeds only the clock can change what it yields, and only at an expiry.
    if (now >= this.#staleAt) this.#refresh(now);
    return this.#header;
  }

  /**
   * Feeds the Set-Cookie header(s) of an answer from a working target (see keepsCookiesFrom) to the
   * jar when they change anything we would send. `sent` is the Cookie header the request carried:
   * in a shared jar, an answer to a request that went out under another cookie than the one held
   * now comes from a placement that lost the race (or from before a re-placement), and must not
   * move every lane to its target; an answer to a request that carried the current cookie may
   * (the balancer moved us because our target failed).
   */
  update(setCookie: string | string[] | undefined, now: number, sent = this.#header): void {
    this.#placed = true;
    if (setCookie === undefined) return;
    if (this.shared && sent !== this.#header && this.#header !== '') return;
    // Balancers re-issue the same cookies on every answer (ALB: a fresh Expires at most once a
    // second): the exact same header text again has no effect, not even a repeated deletion, so it
    // is recognised before anything is sliced, joined or matched (~1 µs a request at batch 1).
    if (now - this.#refreshedAt <= REFRESH_MS && sameRaw(setCookie, this.#lastRaw)) return;
    this.#lastRaw = setCookie;
    let list = typeof setCookie === 'string' ? [setCookie] : setCookie;
    if (list.some(oversized)) list = list.filter((c) => !oversized(c));
    // Fast path, every ALB response: the same pairs as last time, only Expires moved on.
    const pairs = list.length === 1 ? pairOf(list[0] as string) : list.map(pairOf).join('\n');
    if (pairs === this.#lastPairs && now - this.#refreshedAt <= REFRESH_MS && !list.some((c) => DELETES.test(c)))
      return;
    this.#lastPairs = pairs;
    const signature = signatureOf(list, this.#signature);
    if (signature === this.#signature && now - this.#refreshedAt <= REFRESH_MS) return;
    for (const c of list) this.#jar.setCookieSync(c, this.url, { ignoreError: true });
    capCount(this.#store);
    this.#refresh(now);
    // What the jar holds after the caps, not every name ever offered: an API that sets new names
    // on every answer must not grow the signature (or the time to compute it) without bound.
    this.#signature = heldPairs(this.#store);
  }

  /** Forget every cookie: the balancer will place the next request on a (healthy) target. */
  drop(): void {
    this.#jar.removeAllCookiesSync();
    this.#header = '';
    this.#signature = '';
    this.#lastPairs = '';
    this.#lastRaw = '';
    this.#refreshedAt = 0;
    this.#staleAt = Number.POSITIVE_INFINITY;
    this.#placed = false;
  }

  /** Whether a request must go through `placement` first (a shared jar not placed yet): a cheap check. */
  get unplaced(): boolean {
    return this.shared && !this.#placed && this.#header === '';
  }

  /** Takes a copy of another lane's cookies (they lead to a target that works), after a drop. */
  adopt(other: CookieState, now: number): void {
    for (const c of allCookies(other.#store)) {
      const copy = c.clone();
      if (copy) this.#store.putCookie(copy, () => {}); // synchronous store
    }
    this.#lastPairs = '';
    this.#lastRaw = '';
    this.#refresh(now);
    this.#signature = heldPairs(this.#store);
  }

  /**
   * Shared jar only: while it holds no cookie and no answer has placed the lanes yet, one request
   * goes alone and the others wait for its answer, so every later request carries the one cookie
   * it brings (lanes sent together would each be placed on a different target). Resolves to a
   * release function for the request that goes alone, or undefined for one that just goes.
   */
  async placement(signal?: AbortSignal): Promise<(() => void) | undefined> {
    while (this.shared && !this.#placed && this.#header === '') {
      if (!this.#placing) {
        let release!: () => void;
        this.#placing = new Promise<void>((resolve) => {
          release = resolve;
        });
        return () => {
          this.#placing = undefined;
          release();
        };
      }
      signal?.throwIfAborted();
      await abortable(this.#placing, signal);
    }
    return undefined;
  }

  /**
   * The name=value pairs the jar holds, sorted, one a line ('' for none). It changes only when the
   * jar runs, so lane placement (lane-placement.ts) can tell targets apart without asking the jar.
   */
  get held(): string {
    return this.#signature;
  }

  /** Whether the header we send carries this cookie (for reporting stickiness). */
  has(name: string): boolean {
    return this.#header.startsWith(`${name}=`) || this.#header.includes(`; ${name}=`);
  }

  #refresh(now: number): void {
    // What getCookieStringSync would give (RFC 6265 order, expired ones left out and removed), with
    // the cookies themselves at hand for their expiry.
    const cookies = this.#jar.getCookiesSync(this.url, { sort: true });
    let header = cookies.map((c) => c.cookieString()).join('; ');
    if (header.length > COOKIE_LIMITS.headerBytes / 3) header = capHeader(this.#store, cookies);
    this.#header = header;
    this.#refreshedAt = now;
    // tough-cookie judges expiry by the wall clock, so the next look is by the wall clock too.
    let staleAt = Number.POSITIVE_INFINITY;
    for (const c of cookies) {
      const at = c.expiryTime();
      if (at !== undefined && at < staleAt) staleAt = at;
    }
    this.#staleAt = staleAt === Number.POSITIVE_INFINITY ? staleAt : now + Math.max(0, staleAt - Date.now());
  }
}

/**
 * The name=value pairs a response sets, merged over the previous ones, as a string that is
 * equal exactly when nothing we would send has changed. Attributes (Expires, Path…) are left
 * out on purpose: they change on every ALB response without changing what we send.
 */
function signatureOf(list: readonly string[], previous: string): string {
  let sig = previous.endsWith('\n!') ? previous.slice(0, -2) : previous;
  for (const c of list) {
    const semi = c.indexOf(';');
    const pair = (semi < 0 ? c : c.slice(0, semi)).trim();
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const prefix = `${pair.slice(0, eq + 1)}`;
    const lines = sig === '' ? [] : sig.split('\n');
    const i = lines.findIndex((l) => l.startsWith(prefix));
    if (i >= 0 && lines[i] === pair) continue;
    if (i >= 0) lines[i] = pair;
    else lines.push(pair);
    lines.sort();
    sig = lines.join('\n');
  }
  // An attribute that deletes (Max-Age=0 or a past Expires) must reach the jar even when the pair
  // is unchanged: mark the signature so it differs from one without the mark.
  if (list.some((c) => DELETES.test(c))) sig += '\n!';
  return sig;
}

function sameRaw(a: string | readonly string[], b: string | readonly string[]): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b && a !== '';
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length > 0;
}

function pairOf(setCookie: string): string {
  const semi = setCookie.indexOf(';');
  return semi < 0 ? setCookie : setCookie.slice(0, semi);
}

/**
 * Whether cookies of an answer with this status are kept: 2xx and 4xx only. A 4xx (429 too) comes
 * from a target that is alive and judged our request, so staying on it is right. A 5xx may be the
 * balancer's own answer for a failing target (HAProxy sets its sticky cookie on its 503s; the ALB
 * simulator on its 502s): taking it would stick a lane that just dropped its cookie right back
 * onto the target it is fleeing. 3xx and 1xx are not answers from the API we were given.
 */
export function keepsCookiesFrom(status: number): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500);
}

function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** Gives each lane its cookie state according to --sticky. */
export function cookieStatesFor(mode: StickyMode, url: string): () => CookieState | null {
  if (mode === 'off') return () => null;
  if (mode === 'shared') {
    const shared = new CookieState(url, { shared: true });
    return () => shared;
  }
  return () => new CookieState(url);
}
