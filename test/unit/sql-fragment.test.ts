import { describe, expect, it } from 'vitest';
import { BulkImportError } from '../../src/errors.js';
import { checkSqlFragment } from '../../src/source/sql-fragment.js';

function refusal(text: string): string {
  try {
    checkSqlFragment('--where', text);
  } catch (err) {
    expect(err).toBeInstanceOf(BulkImportError);
    expect((err as BulkImportError).code).toBe('USAGE');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${text}`);
}

describe("checkSqlFragment: what may be pasted into the tool's brackets", () => {
  it.each([
    'id > 5',
    "status = 'it''s; fine (really'",
    "title LIKE E'\\\\'' OR title = E'a\\'b)'",
    "price IN (1, 2, (3)) AND tags[1] = 'x'",
    '"odd ; name)" IS NOT NULL',
    'body = $$ ) ; $$ AND note = $t$ ( $t$',
    'a$b$ = 1 AND $1 IS NULL',
    'id > 1 -- a comment ; with ) junk',
    'id > 1 /* nested /* ; ) */ still ( comment */ AND true',
    'SELECT * FROM (SELECT 1 AS id) s',
    "U&'d\\0061t\\+000061' IS NOT NULL",
  ])('accepts %s', (text) => {
    expect(() => checkSqlFragment('--where', text)).not.toThrow();
  });

  it.each([
    ['true; DELETE FROM victim WHERE id=2', '";"'],
    ['1=1) OR (1=1', 'closes nothing'],
    ['SELECT * FROM t) s; DELETE FROM t; SELECT * FROM (SELECT 1', 'closes nothing'],
    ['(id > 1', 'never closed'],
    ['tags[1) = 1', 'does not match'],
    ["name = 'unclosed", 'unclosed quote'],
    ["name = E'esc\\'", 'unclosed quote'],
    ['"unclosed = 1', 'unclosed double quote'],
    ['id > 1 /* open', 'unclosed /*'],
    ['id > 1 /* a /* b */', 'unclosed /*'],
    ['x = $q$ open', 'unclosed $q$'],
    ["1=1) TO PROGRAM 'touch /tmp/x' --", 'closes nothing'],
  ])('refuses %s', (text, why) => {
    const message = refusal(text);
    expect(message).toContain(why);
    expect(message).toContain('--where');
    expect(message).not.toContain('\n');
  });

  it('names the position of the problem', () => {
    expect(refusal('1=1) OR (1=1')).toContain('at character 4');
  });
});
