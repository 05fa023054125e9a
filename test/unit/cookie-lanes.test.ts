import { describe, expect, it } from 'vitest';
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
