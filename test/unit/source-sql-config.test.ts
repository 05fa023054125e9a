import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../src/cli/config.js';

// Issue 8, items 8 and 9, at the edge: --where/--query are checked and --statement-timeout parsed once.
const pg = { from: 'postgres://h/db', to: 'http://127.0.0.1:1/x' };

describe('PostgreSQL source flags', () => {
  it('bounds each statement at 5 minutes unless told otherwise', () => {
    expect(parseRunConfig({ ...pg, table: 't' }, {}).source).toMatchObject({ statementTimeoutMs: 300_000 });
    expect(parseRunConfig({ ...pg, table: 't', statementTimeout: '1500ms' }, {}).source).toMatchObject({
      statementTimeoutMs: 1500,
    });
    expect(() => parseRunConfig({ ...pg, table: 't', statementTimeout: 'forever' }, {})).toThrowError(
      /--statement-timeout must be a duration/,
    );
    expect(() => parseRunConfig({ from: 'rows.ndjson', to: pg.to, statementTimeout: '1s' }, {})).toThrowError(
      '--statement-timeout needs a PostgreSQL source in --from',
    );
  });

  it('refuses a --where or --query that could leave its brackets', () => {
    expect(() => parseRunConfig({ ...pg, table: 't', where: '1=1) OR (1=1' }, {})).toThrowError(
      /^--where has a "\)" that closes nothing/,
    );
    expect(() => parseRunConfig({ ...pg, table: 't', where: "a = 'b" }, {})).toThrowError(
      /^--where has an unclosed quote/,
    );
    expect(() => parseRunConfig({ ...pg, query: 'SELECT 1 AS id; DELETE FROM t' }, {})).toThrowError(
      /^--query holds a ";"/,
    );
    expect(() =>
      parseRunConfig({ ...pg, query: 'SELECT * FROM t) s; DELETE FROM t; SELECT * FROM (SELECT 1' }, {}),
    ).toThrowError(/^--query has a "\)"/);
  });

  it('still takes a trailing ";" after a --query, and comments', () => {
    const c = parseRunConfig({ ...pg, query: 'SELECT * FROM t -- all of it\n;  ' }, {});
    expect(c.source).toMatchObject({ query: 'SELECT * FROM t -- all of it\n' });
  });
});
