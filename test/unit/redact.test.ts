import { describe, expect, it } from 'vitest';
import { isSecretHeader, makeRedactor, redactHeaders, redactUrl, secretsOf } from '../../src/redact.js';

describe('redact', () => {
  it('masks the password of a URL and secret query parameters', () => {
    expect(redactUrl('postgres://app:s3cr%40t@db.internal:5432/main?sslmode=require&password=x1y2')).toBe(
      'postgres://app:***@db.internal:5432/main?sslmode=require&password=***',
    );
    expect(redactUrl('postgres://db.internal/main')).toBe('postgres://db.internal/main');
  });

  it('knows which headers are secrets', () => {
    for (const h of [
      'Authorization',
      'proxy-authorization',
      'Cookie',
      'X-Api-Key',
      'X-Auth-Token',
      'x-client-secret',
      'X-Password',
      'api-key',
    ])
      expect(isSecretHeader(h), h).toBe(true);
    for (const h of ['Idempotency-Key', 'Content-Type', 'X-Request-Id']) expect(isSecretHeader(h), h).toBe(false);
    expect(redactHeaders({ Authorization: 'Bearer abc', Accept: 'x' })).toEqual({ Authorization: '***', Accept: 'x' });
  });

  it('scrubs known secret values from free text, including the bare credential of a Bearer header', () => {
    const secrets = secretsOf(['postgres://u:hunter22@h/db'], {
      Authorization: 'Bearer tok-123456',
      'X-Trace': 'visible',
    });
    const redact = makeRedactor(secrets);
    const text = redact(
      'auth failed for hunter22 with Bearer tok-123456 and tok-123456; trace visible; postgres://u:other@h/db',
    );
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('tok-123456');
    expect(text).not.toContain('other@');
    expect(text).toContain('visible');
  });

  it('masks any query parameter whose name says key, sig, token, secret, password, auth or credential', () => {
    const names = [
      'api_key',
      'key',
      'sig',
      'signature',
      'token',
      'access_token',
      'apiKey',
      'X-Amz-Signature',
      'X-Amz-Credential',
      'X-Amz-Security-Token',
      'AWSAccessKeyId',
      'client_secret',
      'passwd',
      'auth',
      'authToken',
      'subscription-key',
      'code_credential',
    ];
    for (const name of names) {
      const url = `https://api.example.com/v1/items?a=1&${encodeURIComponent(name)}=S3cr3t-value&b=two%20words`;
      expect(redactUrl(url), name).toBe(
        `https://api.example.com/v1/items?a=1&${encodeURIComponent(name)}=***&b=two%20words`,
      );
    }
    // Repeated and percent-encoded names too; other parameters keep their exact spelling.
    expect(redactUrl('http://h/x?sig=a&sig=b&%6Bey=c&q=a+b')).toBe('http://h/x?sig=***&sig=***&%6Bey=***&q=a+b');
    // A URL's user name without a password is a token (https://ghp_x@host/); a database user is not.
    expect(redactUrl('https://ghp_abcdef@api.example.com/')).toBe('https://***@api.example.com/');
    expect(redactUrl('postgres://app@db/main')).toBe('postgres://app@db/main');
    // Not a URL (a flag and its value): still masked.
    expect(redactUrl('--tp=https://h/x?api_key=abc123&x=1')).toBe('--tp=https://h/x?api_key=***&x=1');
  });

  it('treats any header whose name says key or auth as secret, except Idempotency-Key', () => {
    for (const h of [
      'X-Auth-Key',
      'Ocp-Apim-Subscription-Key',
      'X-Functions-Key',
      'x-goog-api-key',
      'X-Signature',
      'X-Authentication',
      'Set-Cookie',
    ])
      expect(isSecretHeader(h), h).toBe(true);
    for (const h of ['Idempotency-Key', 'idempotency-key', 'Accept', 'User-Agent', 'X-Request-Id'])
      expect(isSecretHeader(h), h).toBe(false);
  });

  it('scrubs secret query values of known URLs and of any URL quoted in free text', () => {
    const redact = makeRedactor(secretsOf(['https://h/x?api_key=k%2Fey-1234&sig=sig-5678'], {}));
    const text = redact('refused k/ey-1234 and sig-5678 at https://other/y?token=tok-9999&page=2');
    for (const s of ['k/ey-1234', 'sig-5678', 'tok-9999']) expect(text).not.toContain(s);
    expect(text).toContain('page=2');
  });
});
