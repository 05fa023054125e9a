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
    for (const h of ['Authorization', 'proxy-authorization', 'Cookie', 'X-Api-Key', 'X-Auth-Token', 'x-client-secret', 'X-Password', 'api-key'])
      expect(isSecretHeader(h), h).toBe(true);
    for (const h of ['Idempotency-Key', 'Content-Type', 'X-Request-Id']) expect(isSecretHeader(h), h).toBe(false);
    expect(redactHeaders({ Authorization: 'Bearer abc', Accept: 'x' })).toEqual({ Authorization: '***', Accept: 'x' });
  });

  it('scrubs known secret values from free text, including the bare credential of a Bearer header', () => {
    const secrets = secretsOf(['postgres://u:hunter22@h/db'], { Authorization: 'Bearer tok-123456', 'X-Trace': 'visible' });
    const redact = makeRedactor(secrets);
    const text = redact('auth failed for hunter22 with Bearer tok-123456 and tok-123456; trace visible; postgres://u:other@h/db');
    expect(text).not.toContain('hunter22');
    expect(text).not.toContain('tok-123456');
    expect(text).not.toContain('other@');
    expect(text).toContain('visible');
  });
});
