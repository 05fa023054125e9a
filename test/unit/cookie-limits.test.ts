import { describe, expect, it } from 'vitest';
import { CookieState, keepsCookiesFrom } from '../../src/http/cookie-lanes.js';

const url = 'http://127.0.0.1:8080/listings';
const bytes = (s: string) => Buffer.byteLength(s);

describe('cookie jar limits, as browsers keep them (issue 8, item 17)', () => {
  it('ignores a cookie over 4096 bytes and keeps the others of the same answer', () => {
    const c = new CookieState(url);
    c.update([`BIG=${'x'.repeat(9000)}; Path=/`, 'AWSALB=t1; Path=/'], 1000);
    expect(c.header(1001)).toBe('AWSALB=t1');
    c.update(`EDGE=${'y'.repeat(4091)}`, 1002); // name=value exactly 4096 bytes: kept
    expect(bytes(c.header(1003))).toBe(bytes('AWSALB=t1; ') + 4096);
  });

  it('holds at most 50 cookies, the first ones: a flood of new names cannot push out the sticky cookie', () => {
    const c = new CookieState(url);
    c.update(['AWSALB=t1; Path=/'], 0);
    for (let k = 0; k < 20; k++)
      c.update(
        Array.from({ length: 50 }, (_, i) => `c${k}_${i}=v; Path=/`),
        k + 1,
      );
    const pairs = c.header(100).split('; ');
    expect(pairs).toHaveLength(50);
    expect(pairs).toContain('AWSALB=t1');
    expect(pairs).toContain('c0_0=v');
    expect(pairs).not.toContain('c19_49=v');
  });

  it('stays cheap under an API that sets 50 new names on every answer', () => {
    const c = new CookieState(url);
    const t0 = performance.now();
    for (let k = 0; k < 400; k++)
      c.update(
        Array.from({ length: 50 }, (_, i) => `n${k}_${i}=v; Path=/`),
        k * 2000,
      );
    expect(c.header(400 * 2000).split('; ')).toHaveLength(50);
    // Before the caps this took minutes: every name ever offered was kept, and re-sorted per cookie.
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('keeps the Cookie header within 8 KiB, leaving out (and forgetting) what does not fit', () => {
    const c = new CookieState(url);
    c.update(['AWSALB=t1; Path=/', ...Array.from({ length: 40 }, (_, i) => `k${i}=${'z'.repeat(300)}; Path=/`)], 0);
    const header = c.header(1);
    expect(bytes(header)).toBeLessThanOrEqual(8192);
    expect(bytes(header)).toBeGreaterThan(8192 - 320);
    expect(header.startsWith('AWSALB=t1; k0=')).toBe(true);
    expect(c.header(5000)).toBe(header); // the left-out ones are gone from the jar, not re-added later
  });

  it('takes cookies from 2xx and 4xx answers only', () => {
    expect([200, 204, 400, 422, 429].every(keepsCookiesFrom)).toBe(true);
    expect([302, 500, 502, 503, 504].some(keepsCookiesFrom)).toBe(false);
  });
});

describe('a shared jar: the first cookie wins (issue 8, item 20)', () => {
  it('ignores a different cookie from a request that went out without the one held now', () => {
    const c = new CookieState(url, { shared: true });
    c.update(['AWSALB=b1; Path=/'], 0, '');
    c.update(['AWSALB=b2; Path=/'], 1, ''); // placed at the same time, on another target: lost the race
    expect(c.header(2)).toBe('AWSALB=b1');
    c.update(['AWSALB=b3; Path=/'], 3, 'AWSALB=b1'); // the balancer moved us: our target failed
    expect(c.header(4)).toBe('AWSALB=b3');
    c.update(['AWSALB=b1; Path=/'], 5, 'AWSALB=b1'); // a late answer from before the move
    expect(c.header(6)).toBe('AWSALB=b3');
  });

  it('lets one request place the lanes while the jar is empty; the others wait for its answer', async () => {
    const c = new CookieState(url, { shared: true });
    expect(c.unplaced).toBe(true);
    const release = await c.placement();
    expect(release).toBeTypeOf('function');
    let waited = false;
    const other = c.placement().then((r) => {
      waited = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(waited).toBe(false);
    c.update(['AWSALB=b1; Path=/'], 0, '');
    release?.();
    expect(await other).toBeUndefined(); // placed: it just goes, with the cookie
    expect(c.unplaced).toBe(false);
    c.drop();
    expect(c.unplaced).toBe(true);
  });

  it('a lane jar never waits', async () => {
    const c = new CookieState(url);
    expect(c.unplaced).toBe(false);
    expect(await c.placement()).toBeUndefined();
  });
});
