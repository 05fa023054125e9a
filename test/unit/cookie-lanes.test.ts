import { CookieJar } from 'tough-cookie';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CookieState, cookieStatesFor } from '../../src/http/cookie-lanes.js';

const url = 'http://127.0.0.1:8080/listings';
const future = (s: number) => new Date(Date.now() + s * 1000).toUTCString();
const alb = (v: string) => [
  `AWSALB=${v}; Expires=${future(604800)}; Path=/`,
  `AWSALBCORS=${v}; Expires=${future(604800)}; Path=/; SameSite=None; Secure`,
];

describe('cookie lanes', () => {
  it('sends back both ALB cookies, Secure one included, over http to a loopback host', () => {
    const c = new CookieState(url);
    c.update(alb('t1'), 1000);
    expect(c.header(1001)).toBe('AWSALB=t1; AWSALBCORS=t1');
    expect(c.has('AWSALB')).toBe(true);
  });

  it('follows a changed value and a deletion', () => {
    const c = new CookieState(url);
    c.update(alb('t1'), 1000);
    c.update(alb('t2'), 1001);
    expect(c.header(1002)).toBe('AWSALB=t2; AWSALBCORS=t2');
    c.update(['AWSALBCORS=t2; Max-Age=0; Path=/'], 1003);
    expect(c.header(1004)).toBe('AWSALB=t2');
  });

  it('respects path and domain rules (RFC 6265 via the jar, not hand parsing)', () => {
    const c = new CookieState(url);
    c.update(['A=1; Path=/other', 'B=2; Domain=example.com', 'C=3; Path=/listings'], 0);
    expect(c.header(1)).toBe('C=3');
  });

  it('drops expired cookies once the cache is refreshed', () => {
    const c = new CookieState(url);
    c.update([`S=1; Expires=${future(-10)}`, 'K=2'], Date.now());
    expect(c.header(Date.now() + 2000)).toBe('K=2');
  });

  it('forgets everything on drop', () => {
    const c = new CookieState(url);
    c.update(alb('t1'), 0);
    c.drop();
    expect(c.header(1)).toBe('');
  });

  it('gives lanes their own jar, one shared jar, or none', () => {
    const lane = cookieStatesFor('lane', url);
    expect(lane()).not.toBe(lane());
    const shared = cookieStatesFor('shared', url);
    expect(shared()).toBe(shared());
    expect(cookieStatesFor('off', url)()).toBeNull();
  });
});

describe('cookie lanes, fast path', () => {
  it('still applies a Max-Age=0 deletion whose name=value repeats the previous response', () => {
    const c = new CookieState(url);
    c.update(['S=1; Path=/'], 1000);
    expect(c.header(1001)).toBe('S=1');
    c.update(['S=1; Max-Age=0; Path=/'], 1002);
    expect(c.header(1003)).toBe('');
  });
});

describe('cookie lanes, the cached header and expiry', () => {
  const t0 = Date.UTC(2026, 0, 1, 12, 0, 0, 400);
  // Only Date is faked: tough-cookie judges expiry by it, and the tests move it with setSystemTime.
  beforeEach(() => vi.useFakeTimers({ now: t0, toFake: ['Date'] }));
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('stops sending a cookie the moment it expires, also within a second of the jar last running', () => {
    const c = new CookieState(url);
    // Expires has whole seconds: this one ends 600 ms after the answer that set it.
    c.update([`E=1; Expires=${new Date(t0 + 600).toUTCString()}; Path=/`, 'K=2; Path=/'], t0);
    expect(c.header(t0 + 599)).toBe('E=1; K=2');
    vi.setSystemTime(t0 + 600);
    expect(c.header(t0 + 600)).toBe('K=2');
    expect(c.held).toBe('E=1\nK=2'); // what the jar was fed; placement reads it, the header is what goes out
  });

  it('ends a Max-Age cookie by the jar rule, and sends it again once an answer sets it again', () => {
    const c = new CookieState(url);
    c.update(['M=1; Max-Age=2; Path=/'], t0);
    expect(c.header(t0 + 1999)).toBe('M=1');
    vi.setSystemTime(t0 + 2000);
    expect(c.header(t0 + 2000)).toBe('');
    c.update(['M=2; Max-Age=2; Path=/'], t0 + 2100);
    expect(c.header(t0 + 2101)).toBe('M=2');
  });

  it('keeps a cookie the answers keep re-issuing, past the lifetime of the first one', () => {
    const c = new CookieState(url);
    for (let ms = 0; ms <= 5000; ms += 250) {
      vi.setSystemTime(t0 + ms);
      c.update([`A=1; Expires=${new Date(t0 + ms + 2000).toUTCString()}; Path=/`], t0 + ms);
      expect(c.header(t0 + ms)).toBe('A=1');
    }
  });

  it('runs the jar only when an answer changes what is sent: an ALB moving Expires on every second does not', () => {
    const feeds = vi.spyOn(CookieJar.prototype, 'setCookieSync');
    const c = new CookieState(url);
    // 10 s of answers every 50 ms, both ALB cookies re-issued with the second's Expires (+7 days).
    for (let ms = 0; ms <= 10_000; ms += 50) {
      vi.setSystemTime(t0 + ms);
      const expires = new Date(t0 + ms + 604_800_000).toUTCString();
      c.update([`AWSALB=b1; Expires=${expires}; Path=/`, `AWSALBCORS=b1; Expires=${expires}; Path=/; Secure`], t0 + ms);
      expect(c.header(t0 + ms)).toBe('AWSALB=b1; AWSALBCORS=b1');
    }
    // The first answer only (two cookies): the jar fed once a second made this 22.
    expect(feeds).toHaveBeenCalledTimes(2);
    c.update(
      [`AWSALB=b2; Expires=${future(604_800)}; Path=/`, `AWSALBCORS=b2; Expires=${future(604_800)}; Path=/`],
      t0 + 10_001,
    );
    expect(c.header(t0 + 10_002)).toBe('AWSALB=b2; AWSALBCORS=b2');
  });

  it('takes an earlier Expires at once, and a past one as a deletion, though the value is the same', () => {
    const c = new CookieState(url);
    c.update([`A=1; Expires=${new Date(t0 + 604_800_000).toUTCString()}; Path=/`, 'K=2; Path=/'], t0);
    c.update([`A=1; Expires=${new Date(t0 + 5_000).toUTCString()}; Path=/`, 'K=2; Path=/'], t0 + 100);
    expect(c.header(t0 + 4_000)).toBe('A=1; K=2');
    vi.setSystemTime(t0 + 5_000);
    expect(c.header(t0 + 5_000)).toBe('K=2');
    const d = new CookieState(url);
    d.update([`A=1; Expires=${new Date(t0 + 604_800_000).toUTCString()}; Path=/`], t0 + 5_000);
    d.update(['A=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/'], t0 + 5_001);
    expect(d.header(t0 + 5_002)).toBe('');
  });

  it('a Max-Age cookie re-issued identically is kept while answers keep coming, and taken again after it lapsed', () => {
    const c = new CookieState(url);
    for (let ms = 0; ms <= 5_000; ms += 500) {
      vi.setSystemTime(t0 + ms);
      c.update(['M=1; Max-Age=2; Path=/'], t0 + ms);
      expect(c.header(t0 + ms), `at ${ms} ms`).toBe('M=1');
    }
    vi.setSystemTime(t0 + 8_000); // no answer for 3 s: it lapsed
    expect(c.header(t0 + 8_000)).toBe('');
    c.update(['M=1; Max-Age=2; Path=/'], t0 + 8_001); // the same text as before: taken again
    expect(c.header(t0 + 8_002)).toBe('M=1');
  });

  it('after a drop (a lane fleeing a failing target) the very same Set-Cookie text is taken again', () => {
    const c = new CookieState(url);
    const expires = new Date(t0 + 604_800_000).toUTCString();
    const answer = [`AWSALB=b1; Expires=${expires}; Path=/`, `AWSALBCORS=b1; Expires=${expires}; Path=/`];
    c.update(answer, t0);
    c.drop();
    expect(c.header(t0 + 1)).toBe('');
    // The balancer places the lane back on b1 and says so in the same words: not "nothing changed".
    c.update([...answer], t0 + 2);
    expect(c.header(t0 + 3)).toBe('AWSALB=b1; AWSALBCORS=b1');
    // A lane that borrowed another's cookies, then hears its old target's words again, goes back.
    const donor = new CookieState(url);
    donor.update([`AWSALB=b2; Expires=${expires}; Path=/`], t0 + 4);
    c.drop();
    c.adopt(donor, t0 + 5);
    expect(c.header(t0 + 6)).toBe('AWSALB=b2');
    c.update([...answer], t0 + 7);
    expect(c.header(t0 + 8)).toBe('AWSALB=b1; AWSALBCORS=b1');
  });
});
