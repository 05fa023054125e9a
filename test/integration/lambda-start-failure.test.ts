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
  for (const k of Object.keys(ENV)) delete process.env[k];
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
