import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { requestBody } from '../../src/queue/batch-request.js';
import { envelopeAttributes } from '../../src/queue/envelope.js';
import { MessagePacker, type PackedMessage } from '../../src/queue/message-packer.js';
import { LazyBatch } from '../../src/source/batch.js';

/** Rows whose escaping is every case JSON has: quotes, backslashes, control characters, multi-byte text. */
const rows = [
  '{"id":1,"t":"plain"}',
  '{"id":2,"t":"say \\"hi\\" \\\\ back\\\\slash"}',
  '{"id":3,"t":"line\\nbreak\\ttab\\u0001"}',
  '{"id":4,\n\t"t":"blank text between tokens, raw"}',
  '{"id":5,"t":"Zürich – Kraków ✓ 😀"}',
  '{"id":6,"t":"\u007f\u0080\u009f"}',
];

function packed(): PackedMessage[] {
  // As the PostgreSQL source hands them over: the batch's JSON array as UTF-8 bytes.
  const bytes = Buffer.from(`[${rows.join(',')}]`, 'utf8');
  const batch = new LazyBatch(0, rows.length, ['1'], ['6'], 'k', { bytes });
  const packer = new MessagePacker({ job: 'jöb-1', messageBytes: 200 });
  const out = packer.add(batch).sealed;
  const last = packer.flush();
  return last ? [...out, last] : out;
}

describe('requestBody', () => {
  test('each entry carries its message body and attributes exactly, and the MD5 SQS will answer', () => {
    const messages = packed();
    expect(messages.length).toBeGreaterThan(1);
    const { body, md5 } = requestBody('http://127.0.0.1:1/000000000000/q', messages);
    const input = JSON.parse(body.toString('utf8')) as {
      QueueUrl: string;
      Entries: { Id: string; MessageBody: string; MessageAttributes: unknown }[];
    };
    expect(input.QueueUrl).toBe('http://127.0.0.1:1/000000000000/q');
    expect(input.Entries.map((e) => e.Id)).toEqual(messages.map((_, i) => String(i)));
    const sent = input.Entries.map((e) => e.MessageBody);
    expect(sent).toEqual(messages.map((m) => m.body));
    expect(md5).toEqual(sent.map((b) => createHash('md5').update(b, 'utf8').digest('hex')));
    expect(input.Entries.map((e) => e.MessageAttributes)).toEqual(
      messages.map((m) => JSON.parse(JSON.stringify(envelopeAttributes(m.meta)))),
    );
    // Every row arrives as its own text, once, in order.
    const arrived = sent.flatMap((b) => (JSON.parse(b) as { rows: unknown[] }).rows);
    expect(arrived).toEqual(rows.map((r) => JSON.parse(r)));
  });

  test('rows made mostly of escapes (the body grows past its estimate) arrive intact', () => {
    const heavy = Array.from({ length: 4 }, (_, i) => `{"id":${i},"t":"${'\\"\\\\\\u0001'.repeat(3000)}"}`);
    const bytes = Buffer.from(`[${heavy.join(',')}]`, 'utf8');
    const packer = new MessagePacker({ job: 'j', messageBytes: 65_536 });
    const messages = [...packer.add(new LazyBatch(0, 4, ['0'], ['3'], 'k', { bytes })).sealed];
    const last = packer.flush();
    if (last) messages.push(last);
    const { body, md5 } = requestBody('http://127.0.0.1:1/000000000000/q', messages);
    const sent = (JSON.parse(body.toString('utf8')) as { Entries: { MessageBody: string }[] }).Entries.map(
      (e) => e.MessageBody,
    );
    expect(sent.flatMap((b) => (JSON.parse(b) as { rows: unknown[] }).rows)).toEqual(heavy.map((r) => JSON.parse(r)));
    expect(md5).toEqual(sent.map((b) => createHash('md5').update(b, 'utf8').digest('hex')));
  });

  test('a released body buffer serves the next call; one still in flight is never written over', () => {
    const big = (id0: number) => {
      const rows = Array.from({ length: 1000 }, (_, i) => `{"id":${id0 + i},"t":"${'x'.repeat(500)}"}`);
      const bytes = Buffer.from(`[${rows.join(',')}]`, 'utf8');
      const packer = new MessagePacker({ job: 'j', messageBytes: 65_536 });
      const out = [...packer.add(new LazyBatch(0, 1000, ['1'], ['1000'], 'k', { bytes })).sealed];
      const last = packer.flush();
      return last ? [...out, last] : out;
    };
    const ids = (body: Buffer) =>
      (JSON.parse(body.toString('utf8')) as { Entries: { MessageBody: string }[] }).Entries.flatMap((e) =>
        (JSON.parse(e.MessageBody) as { rows: { id: number }[] }).rows.map((r) => r.id),
      );
    const url = 'http://127.0.0.1:1/000000000000/q';
    const first = requestBody(url, big(1));
    const firstText = first.body.toString('utf8');
    const second = requestBody(url, big(5001)); // first is in flight: a buffer of its own
    expect(second.body.buffer).not.toBe(first.body.buffer);
    expect(first.body.toString('utf8')).toBe(firstText);
    first.release();
    const third = requestBody(url, big(9001));
    expect(third.body.buffer).toBe(first.body.buffer);
    expect(ids(second.body)).toEqual(Array.from({ length: 1000 }, (_, i) => 5001 + i));
    expect(ids(third.body)).toEqual(Array.from({ length: 1000 }, (_, i) => 9001 + i));
    second.release();
    third.release();
  });

  test('a message counts the UTF-8 bytes SQS counts', () => {
    const all = packed();
    const bodyBytes = all.map((m) => Buffer.byteLength(m.body));
    const partBytes = all.map((m) => m.parts.reduce((n, p) => n + p.length, 0) + m.parts.length - 1);
    const frame = Buffer.byteLength('{"v":1,"job":"jöb-1","rows":[]}');
    expect(bodyBytes).toEqual(partBytes.map((n) => n + frame));
  });
});
