import { describe, expect, test } from 'vitest';
import {
  attributesBytes,
  attributesBytesOf,
  envelopeAttributes,
  envelopeBody,
  parseEnvelope,
} from '../../src/queue/envelope.js';

describe('envelope', () => {
  test('rows are spliced in as written and come back byte for byte', () => {
    const rows = ['{"id":9007199254740993,"n":1.50}', '{"id":2,"s":"a,\\"b\\"]}"}', '[1,{"x":[2]}]'];
    const body = envelopeBody('job-1', rows);
    expect(body).toBe(`{"v":1,"job":"job-1","rows":[${rows.join(',')}]}`);
    expect(parseEnvelope(body)).toEqual({ ok: true, envelope: { v: 1, job: 'job-1', rows } });
  });

  test('a consumer-written body with other members and spacing parses too', () => {
    const body = '{ "rows" : [ {"id":1} , {"id":2} ], "v": 1, "job": "j", "extra": {"rows": [3]} }';
    const parsed = parseEnvelope(body);
    expect(parsed.ok && parsed.envelope.rows).toEqual(['{"id":1}', '{"id":2}']);
  });

  test.each([
    ['not json', 'body is not JSON'],
    ['[1]', 'not a JSON object'],
    ['{"v":2,"rows":[]}', 'unknown envelope version 2'],
    ['{"v":1,"rows":{}}', '"rows" is not an array'],
  ])('%s is refused with a reason', (body, reason) => {
    const parsed = parseEnvelope(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });

  test('the rows attribute must match the body', () => {
    expect(parseEnvelope(envelopeBody('j', ['1', '2']), '3')).toMatchObject({ ok: false });
    expect(parseEnvelope(envelopeBody('j', ['1', '2']), '2')).toMatchObject({ ok: true });
  });

  test('attribute bytes are counted as SQS counts them: name + type + value', () => {
    const exact = { job: 'jöb', rows: 20, range: [['1'], ['20']] as const, firstKey: ['1'], lastKey: ['20'] };
    const bounds = { job: 'jöb', rows: 20, range: [['1'], ['20']] as const };
    for (const meta of [exact, bounds, { ...bounds, lastKey: ['20'] }]) {
      const counted = Object.entries(envelopeAttributes(meta)).reduce(
        (n, [name, a]) =>
          n +
          Buffer.byteLength(name) +
          Buffer.byteLength(a.DataType as string) +
          Buffer.byteLength(a.StringValue as string),
        0,
      );
      expect(attributesBytes(meta)).toBe(counted);
      // The packer's bound never undercounts.
      expect(attributesBytesOf(Buffer.byteLength('jöb'), 5, 6, 20)).toBeGreaterThanOrEqual(counted);
    }
    expect(Object.keys(envelopeAttributes(bounds)).sort()).toEqual(['job', 'keyRange', 'rows']);
  });
});
