import { CookieJar } from 'tough-cookie';

export type StickyMode = 'lane' | 'shared' | 'off';

/** A Set-Cookie that deletes: it must reach the jar even when its name=value did not change. */
const DELETES = /;\s*max-age\s*=\s*(0|-)/i;

/** How long a cached Cookie header is trusted before the jar is asked again (expiry, deletions). */
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
  readonly #jar = new CookieJar(undefined, { looseMode: true });
  #header = '';
  #signature = '';
  /** The name=value pairs of the last response, as sent: the common case repeats them exactly. */
  #lastPairs = '';
  #refreshedAt = 0;

  constructor(private readonly url: string) {}

  /** The Cookie header to send, or '' for none. */
  header(now: number): string {
    if (this.#signature !== '' && now - this.#refreshedAt > REFRESH_MS) this.#refresh(now);
    return this.#header;
  }

  /** Feeds a response's Set-Cookie header(s) to the jar when they change anything we would send. */
  update(setCookie: string | string[] | undefined, now: number): void {
    if (setCookie === undefined) return;
    const list = typeof setCookie === 'string' ? [setCookie] : setCookie;
    // Fast path, every ALB response: the same pairs as last time, only Expires moved on.
    const pairs = list.length === 1 ? pairOf(list[0] as string) : list.map(pairOf).join('\n');
    if (pairs === this.#lastPairs && now - this.#refreshedAt <= REFRESH_MS && !list.some((c) => DELETES.test(c))) return;
    this.#lastPairs = pairs;
    const signature = signatureOf(list, this.#signature);
    if (signature === this.#signature && now - this.#refreshedAt <= REFRESH_MS) return;
    for (const c of list) this.#jar.setCookieSync(c, this.url, { ignoreError: true });
    this.#signature = signature;
    this.#refresh(now);
  }

  /** Forget every cookie: the balancer will place the next request on a (healthy) target. */
  drop(): void {
    this.#jar.removeAllCookiesSync();
    this.#header = '';
    this.#signature = '';
    this.#lastPairs = '';
    this.#refreshedAt = 0;
  }

  /** Whether the header we send carries this cookie (for reporting stickiness). */
  has(name: string): boolean {
    return this.#header.startsWith(`${name}=`) || this.#header.includes(`; ${name}=`);
  }

  #refresh(now: number): void {
    this.#header = this.#jar.getCookieStringSync(this.url);
    this.#refreshedAt = now;
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

function pairOf(setCookie: string): string {
  const semi = setCookie.indexOf(';');
  return semi < 0 ? setCookie : setCookie.slice(0, semi);
}

/** Gives each lane its cookie state according to --sticky. */
export function cookieStatesFor(mode: StickyMode, url: string): () => CookieState | null {
  if (mode === 'off') return () => null;
  if (mode === 'shared') {
    const shared = new CookieState(url);
    return () => shared;
  }
  return () => new CookieState(url);
}
