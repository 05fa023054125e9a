import type { Cookie, MemoryCookieStore } from 'tough-cookie';

/**
 * Browser-like limits for a lane's jar. tough-cookie has none: an API that sets a 9 KB cookie, or
 * 50 new ones per response, would grow the Cookie header until every request is refused with 431
 * (or megabytes go out per request). RFC 6265 §6.1 asks for at least 4096 bytes per cookie and 50
 * per domain; browsers cap there, and servers commonly cap all request headers at 8–16 KiB.
 */
export const COOKIE_LIMITS = { cookieBytes: 4096, cookies: 50, headerBytes: 8192 } as const;

/** The name=value part of a Set-Cookie line is over the per-cookie size: the jar never sees it. */
export function oversized(setCookie: string): boolean {
  const semi = setCookie.indexOf(';');
  const pair = semi < 0 ? setCookie : setCookie.slice(0, semi);
  // Only a long pair can be over; count UTF-8 bytes only then.
  return pair.length > COOKIE_LIMITS.cookieBytes / 3 && Buffer.byteLength(pair) > COOKIE_LIMITS.cookieBytes;
}

/**
 * Keeps at most `cookies` in the store, the oldest. Unlike a browser's eviction of the oldest, the
 * first cookies a lane got are the ones it was placed with (the balancer's, a session): an API
 * flooding new names must not push the sticky cookie out. tough-cookie keeps a replaced cookie's
 * creation time, so an ALB re-issuing AWSALB on every answer does not make it "new".
 * Runs only when the jar runs (a cookie's name=value changed), never per request.
 */
export function capCount(store: MemoryCookieStore): void {
  const all = allCookies(store);
  if (all.length <= COOKIE_LIMITS.cookies) return;
  all.sort((a, b) => (a.creationIndex ?? 0) - (b.creationIndex ?? 0));
  for (const c of all.slice(COOKIE_LIMITS.cookies)) remove(store, c);
}

/**
 * The Cookie header from `cookies` (in the jar's RFC 6265 order), without the ones that would take
 * it past `headerBytes`; those are removed from the store, so what the jar holds is what is sent.
 */
export function capHeader(store: MemoryCookieStore, cookies: readonly Cookie[]): string {
  let header = '';
  for (const c of cookies) {
    const pair = c.cookieString();
    const next = header === '' ? pair : `${header}; ${pair}`;
    if (Buffer.byteLength(next) > COOKIE_LIMITS.headerBytes) remove(store, c);
    else header = next;
  }
  return header;
}

/** The name=value pairs the store holds, sorted, one a line: cookie-lanes.ts's signature. */
export function heldPairs(store: MemoryCookieStore): string {
  return allCookies(store)
    .map((c) => `${c.key}=${c.value}`)
    .sort()
    .join('\n');
}

/** Every cookie the store holds (MemoryCookieStore answers synchronously). */
export function allCookies(store: MemoryCookieStore): Cookie[] {
  let all: Cookie[] = [];
  store.getAllCookies((_err, cookies) => {
    all = cookies ?? [];
  }); // MemoryCookieStore calls back synchronously
  return all;
}

function remove(store: MemoryCookieStore, c: Cookie): void {
  store.removeCookie(c.domain ?? '', c.path ?? '', c.key, () => {});
}
