import { describe, expect, it } from 'vitest';
import { memberSpan, splitJsonArray, stringEnd, valueEnd } from '../../src/json/scan.js';

const tricky = [
  '{"s":"a \\" quote, a [bracket] and a {brace}","n":[1,[2,{"x":3}]]}',
  '"\\\\"',
  '12345678901234567890123456789',
  '[{"a":"]"},"}"]',
  'null',
];

describe('JSON scanner', () => {
  it('stringEnd finds the closing quote past escapes, or the end of unterminated text', () => {
    expect(stringEnd('"a\\"b" x', 0)).toBe(5);
    expect(stringEnd('x"\\\\"', 1)).toBe(4);
    expect(stringEnd('"open', 0)).toBe(5);
  });

  it('valueEnd stops at the first comma at its level, or at the closing bracket of its container', () => {
    const run = tricky.join(',');
    let at = 0;
    const values: string[] = [];
    for (;;) {
      const end = valueEnd(run, at);
      values.push(run.slice(at, end));
      if (end === run.length) break;
      at = end + 1;
    }
    expect(values).toEqual(tricky);
    expect(valueEnd('[1,2]] ,3', 1)).toBe(2);
    expect(valueEnd('{"a":[1,2]}}', 1)).toBe(10);
    expect(valueEnd('1 ] ,', 0)).toBe(2);
  });

  it('splitJsonArray keeps each element text as it stands: digits, escapes, nesting', () => {
    expect(splitJsonArray(`[${tricky.join(',')}]`)).toEqual(tricky);
    expect(splitJsonArray(` [ ${tricky.join(' ,\n ')} ] `)).toEqual(tricky);
    expect(splitJsonArray('[]')).toEqual([]);
    expect(splitJsonArray('[ ]')).toEqual([]);
    expect(splitJsonArray('[1,2')).toEqual(['1']);
  });

  it('memberSpan finds a top-level member value only, with escaped keys decoded', () => {
    const body = '{"v":1,"job":"rows, \\"rows\\":[9]","meta":{"rows":[8]},"rows":[1,2] ,"x":0}';
    const span = memberSpan(body, 'rows');
    expect(span && body.slice(...span)).toBe('[1,2] ');
    const escaped = '{"r\\u006fws":[3]}';
    expect(memberSpan(escaped, 'rows')).toEqual([13, 16]);
    expect(memberSpan(' { "rows" : [4] } ', 'rows')).toEqual([11, 16]);
    expect(memberSpan('{"a":1}', 'rows')).toBeUndefined();
    expect(memberSpan('{}', 'rows')).toBeUndefined();
    expect(memberSpan('[{"rows":1}]', 'rows')).toBeUndefined();
  });
});
