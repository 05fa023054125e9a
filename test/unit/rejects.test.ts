import { describe, expect, test } from 'vitest';
import { parseEnvelope } from '../../src/queue/envelope.js';
import { rejectsBodies, rejectsSender, type RejectedRow } from '../../src/queue/rejects.js';

const rejected = (n: number): RejectedRow[] =>
  Array.from({ length: n }, (_, i) => ({
    row: `{"id":${i + 1},"big":9007199254740993,"s":"${'x'.repeat(200)}"}`,
    status: 422,
    error: `bad ${i + 1}`,
    attempts: 1,
  }));

describe('rejects envelope', () => {
  test('is a v1 envelope any reader parses, with one failure per row, in order', () => {
    const [only] = rejectsBodies('job-1', rejected(3), 'msg-1');
    const parsed = parseEnvelope(only?.body as string, String(only?.rows));
    expect(parsed.ok && parsed.envelope.rows).toEqual(rejected(3).map((r) => r.row)); // byte for byte: no bigint rounded
    const body = JSON.parse(only?.body as string) as { failures: { status: number; error: string }[]; from: string };
    expect(body.failures.map((f) => f.error)).toEqual(['bad 1', 'bad 2', 'bad 3']);
    expect(body.from).toBe('msg-1');
  });

  test('many rows are cut into bodies within the size limit, every row once', async () => {
    const sent: { body: string; rows: string }[] = [];
    await rejectsSender(
      async (body, attributes) => void sent.push({ body, rows: attributes.rows?.StringValue as string }),
      4096,
    )('j', rejected(60), 'm');
    expect(sent.length).toBeGreaterThan(3);
    const rows = sent.flatMap((s) => {
      expect(Buffer.byteLength(s.body)).toBeLessThanOrEqual(4096);
      const p = parseEnvelope(s.body, s.rows);
      return p.ok ? p.envelope.rows : [];
    });
    expect(rows).toEqual(rejected(60).map((r) => r.row));
  });
});
