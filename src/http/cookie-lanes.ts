import { CookieJar, MemoryCookieStore } from 'tough-cookie';
import { allCookies, capCount, capHeader, COOKIE_LIMITS, heldPairs, oversized } from './cookie-limits.js';

export type StickyMode = 'lane' | 'shared' | 'off';

/** A Set-Cookie that deletes by Max-Age: it must reach the jar even when nothing else changed. */
const DELETES = /;\s*max-age\s*=\s*(0|-)/i;
/** A Set-Cookie's Expires attribute: the part an ALB changes on every answer (once a second). */
const EXPIRES = /;\s*expires\s*=\s*([^;]*)/i;

/**
 * One cookie jar and the Cookie header it currently yields.
 *
 * An ALB re-issues AWSALB and AWSALBCORS with a fresh Expires on every response, so a jar
 * consulted per request costs ~100–200 µs of CPU here and halves requests/s. The jar is the
 * authority (RFC 6265 via tough-cookie: domain, path, expiry, Secure), but it runs only when an
 * answer changes what we send: a cookie's name, value or attributes other than a later Expires,
 * a deletion, or an earlier expiry. A later Expires alone is kept aside and given to the jar only
 * when a cookie we send would expire (see header); feeding it once a second per lane, as this did
 * before, cost ~200 µs a lane a second (32 lanes at 13,000 requests/s: ~0.5 µs a request).
 */
export class CookieState {
  readonly #store = new MemoryCookieStore();
  readonly #jar = new CookieJar(this.#store, { looseMode: true });
  #header = '';
  #signature = '';
  /** The last Set-Cookie as it came (string or list): the exact same one again changes nothing. */
  #lastRaw: string | readonly string[] = '';
  /** When an answer last carried `#lastRaw`, and when the jar was last fed (the caller's clock). */
  #lastRawAt = Number.NEGATIVE_INFINITY;
  #fedAt = Number.NEGATIVE_INFINITY;
  /** What the jar was last fed, less each cookie's Expires: equal means only expiries moved. */
  #fedKey = '';
  /**
   * When the cached header must be made again without any answer changing it: the moment the first
   * cookie it carries expires (by the jar's own rule: Expires, or Max-Age from its last use), in
   * the caller's clock, and by the wall clock (tough-cookie judges expiry by it).
   */
  #staleAt = Number.POSITIVE_INFINITY;
  #staleWall = Number.POSITIVE_INFINITY;

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
    if (now >= this.#staleAt) this.#expiring(now);
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
    this.#lastRawAt = now;
    // Balancers re-issue the same cookies on every answer: the exact same header text again has no
    // effect, not even a repeated deletion, so it is recognised before anything is sliced or
    // matched (~1 µs a request at batch size 1).
    if (sameRaw(setCookie, this.#lastRaw)) return;
    this.#lastRaw = setCookie;
    const list = usable(setCookie);
    const key = keyOf(list);
    // Every ALB answer of a new second: the same cookies, a later Expires. Kept for header().
    if (key === this.#fedKey && !list.some((c) => this.#shortens(c))) return;
    this.#feed(list, key, now);
  }

  /** Forget every cookie: the balancer will place the next request on a (healthy) target. */
  drop(): void {
    this.#jar.removeAllCookiesSync();
    this.#header = '';
    this.#signature = '';
    this.#lastRaw = '';
    this.#lastRawAt = Number.NEGATIVE_INFINITY;
    this.#fedKey = '';
    this.#staleAt = Number.POSITIVE_INFINITY;
    this.#staleWall = Number.POSITIVE_INFINITY;
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
    // The next answer is fed whatever it holds: the jar no longer matches what was fed last.
    this.#lastRaw = '';
    this.#fedKey = '';
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

  /** `received`: when the answer came, if not just now (a Max-Age counts from it). */
  #feed(list: readonly string[], key: string, now: number, received?: Date): void {
    const opts = received ? { ignoreError: true, now: received } : { ignoreError: true };
    for (const c of list) this.#jar.setCookieSync(c, this.url, opts);
    capCount(this.#store);
    this.#fedKey = key;
    this.#fedAt = now;
    this.#refresh(now);
    // What the jar holds after the caps, not every name ever offered: an API that sets new names
    // on every answer must not grow the signature (or the time to compute it) without bound.
    this.#signature = heldPairs(this.#store);
  }

  /**
   * A cookie we send expires by what the jar was fed. If an answer since re-issued the cookies
   * (a later Expires, or a Max-Age counted again), the jar gets that first; otherwise the header
   * is made again without the cookie, and the next answer that sets it is fed, whatever it holds.
   */
  #expiring(now: number): void {
    const before = this.#header;
    if (this.#lastRawAt > this.#fedAt && this.#lastRaw !== '') {
      const list = usable(this.#lastRaw);
      // A Max-Age counts from that answer, by the wall clock the jar keeps (the caller's runs alongside).
      this.#feed(list, keyOf(list), now, new Date(Date.now() - (now - this.#lastRawAt)));
    } else this.#refresh(now);
    if (this.#header === before) return;
    // A cookie lapsed: the next answer that sets it is fed, even in the very words fed before.
    this.#lastRaw = '';
    this.#fedKey = '';
  }

  /** Whether a Set-Cookie ends a cookie sooner than the jar has it: a deletion, or an earlier Expires. */
  #shortens(setCookie: string): boolean {
    if (DELETES.test(setCookie)) return true;
    const expires = EXPIRES.exec(setCookie);
    if (!expires) return false;
    const at = Date.parse((expires[1] as string).trim());
    return !Number.isNaN(at) && at < this.#staleWall;
  }

  #refresh(now: number): void {
    // What getCookieStringSync would give (RFC 6265 order, expired ones left out and removed), with
    // the cookies themselves at hand for their expiry.
    const cookies = this.#jar.getCookiesSync(this.url, { sort: true });
    let header = cookies.map((c) => c.cookieString()).join('; ');
    if (header.length > COOKIE_LIMITS.headerBytes / 3) header = capHeader(this.#store, cookies);
    this.#header = header;
    // tough-cookie judges expiry by the wall clock, so the next look is by the wall clock too.
    let staleWall = Number.POSITIVE_INFINITY;
    for (const c of cookies) {
      const at = c.expiryTime();
      if (at !== undefined && at < staleWall) staleWall = at;
    }
    this.#staleWall = staleWall;
    this.#staleAt = staleWall === Number.POSITIVE_INFINITY ? staleWall : now + Math.max(0, staleWall - Date.now());
  }
}

/** The Set-Cookie(s) of an answer as a list, those over the size limits left out. */
function usable(setCookie: string | readonly string[]): readonly string[] {
  const list = typeof setCookie === 'string' ? [setCookie] : setCookie;
  return list.some(oversized) ? list.filter((c) => !oversized(c)) : list;
}

/** The Set-Cookie(s) less their Expires: what the jar was fed, were only expiries to move on. */
function keyOf(list: readonly string[]): string {
  let key = '';
  for (const c of list) key += `${c.replace(EXPIRES, '')}\n`;
  return key;
}

function sameRaw(a: string | readonly string[], b: string | readonly string[]): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b && a !== '';
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length > 0;
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
