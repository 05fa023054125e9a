import { afterAll, beforeAll, expect, test, vi } from 'vitest';

// Issue 8 item 14: the start-up error logged TARGET_URL and other values unmasked.
const ENV = {
  TARGET_URL: 'ftp://importer:pa55word-xyz@api.example.com/items?token=tok-abc-123&page=1',
  HEADER_X_API_KEY: 'key-value-456',
  HEADERS: JSON.stringify({ Authorization: 'Bearer bearer-789' }),
};
const logged: string[] = [];

beforeAll(() => {
  Object.assign(process.env, ENV);
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logged.push(line));
});
afterAll(() => {
  vi.restoreAllMocks();
  for (const k of [...Object.keys(ENV), 'CONCURRENCY', 'MAX_CONCURRENCY']) delete process.env[k];
});

test('a forwarder that cannot start logs one line, with every secret of its environment masked', async () => {
  const { handler } = await import('../../src/lambda/handler.js');
  await expect(handler({ Records: [] }, { getRemainingTimeInMillis: () => 1000 })).rejects.toThrow(
    /TARGET_URL must be an http\(s\) URL/,
  );
  expect(logged).toHaveLength(1);
  const line = JSON.parse(logged[0] as string) as Record<string, string>;
  expect(line).toMatchObject({ level: 'error', event: 'forwarder_start_failed' });
  expect(line.target).toContain('api.example.com');
  for (const secret of ['pa55word-xyz', 'tok-abc-123', 'key-value-456', 'bearer-789'])
    expect(logged[0]).not.toContain(secret);
});

test.each([
  [
    { CONCURRENCY: 'auto', MAX_CONCURRENCY: 'lots' },
    'MAX_CONCURRENCY must be a whole number from 1 to 1024 (got "lots")',
  ],
  [{ CONCURRENCY: 'fast' }, 'CONCURRENCY must be a whole number from 1 to 1024, or auto (got "fast")'],
  [{ CONCURRENCY: '8', MAX_CONCURRENCY: '0' }, 'MAX_CONCURRENCY must be a whole number from 1 to 1024 (got "0")'],
])('CONCURRENCY=auto and its ceiling are checked at start: %o fails the start with one line', async (env, message) => {
  logged.length = 0;
  delete process.env.MAX_CONCURRENCY;
  Object.assign(process.env, { TARGET_URL: 'https://api.example.com/items' }, env);
  const { handler } = await import('../../src/lambda/handler.js');
  await expect(handler({ Records: [] }, { getRemainingTimeInMillis: () => 1000 })).rejects.toThrow(message);
  expect(logged).toHaveLength(1);
  expect(JSON.parse(logged[0] as string)).toMatchObject({ event: 'forwarder_start_failed', error: message });
});
