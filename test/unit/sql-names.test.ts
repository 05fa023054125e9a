import { describe, expect, it } from 'vitest';
import { parseKeyColumns, parseQualifiedName, qualifiedTable, quoteIdent } from '../../src/source/sql.js';
import { BulkImportError } from '../../src/errors.js';

describe('identifier quoting', () => {
  it('quotes names so any text is safe, doubling quotes', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
    expect(quoteIdent('x; DROP TABLE y')).toBe('"x; DROP TABLE y"');
  });

  it('splits qualified names, quoted or not', () => {
    expect(parseQualifiedName('listings')).toEqual(['listings']);
    expect(parseQualifiedName('public.Weird Name')).toEqual(['public', 'Weird Name']);
    expect(parseQualifiedName('"My.Schema"."Tbl ""x"""')).toEqual(['My.Schema', 'Tbl "x"']);
    expect(qualifiedTable('public.Weird Name')).toBe('"public"."Weird Name"');
  });

  it('rejects malformed names with a usage error', () => {
    for (const bad of ['', 'a.', '.a', '"open', 'a.b.c.d', '"a"b'])
      expect(() => parseQualifiedName(bad), bad).toThrowError(BulkImportError);
  });

  it('parses composite keys', () => {
    expect(parseKeyColumns('id')).toEqual(['id']);
    expect(parseKeyColumns('tenant_id, created_at')).toEqual(['tenant_id', 'created_at']);
    expect(parseKeyColumns('"a,b",c')).toEqual(['a,b', 'c']);
    expect(() => parseKeyColumns('id,id')).toThrowError(/twice/);
  });
});
