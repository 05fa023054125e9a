import { usage } from '../errors.js';
import { checkSqlFragment } from '../source/sql-fragment.js';
import { parseKeyColumns, parseQualifiedName } from '../source/sql.js';
import { IMPORT_DEFAULTS } from './defaults.js';
import type { NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count, Duration } from './rules.js';

export type SourceConfig =
  | {
      kind: 'postgres';
      url: string;
      table?: string;
      query?: string;
      key: string[];
      where?: string;
      pageRows: number;
      /** Bounds each statement: a page read, the probe, the count. */
      statementTimeoutMs: number;
    }
  | { kind: 'ndjson'; path: string; maxLineBytes: number }
  | { kind: 'failed-rows'; path: string };

export interface SourceOptions {
  /** A postgres:// URL, an NDJSON file, or `-` for standard input. */
  from?: string;
  table?: string;
  query?: string;
  /** Key column(s) for keyset paging, comma-separated. */
  key?: string;
  where?: string;
  maxLineBytes?: Count;
  pageRows?: Count;
  statementTimeout?: Duration;
}

/** A JS string holds at most 2^29 − 24 UTF-16 units (V8): a longer line could never be a row. */
const MAX_LINE_BYTES_LIMIT = 2 ** 29 - 24;

export function parseSource(o: SourceOptions, env: NodeJS.ProcessEnv, n: NameOf): SourceConfig {
  const from = o.from ?? env.DATABASE_URL;
  if (!from) throw usage(`${n('from')} is required (a postgres:// URL, an .ndjson file or -), or set DATABASE_URL`);
  if (/^postgres(ql)?:\/\//i.test(from)) {
    if (!o.table === !o.query) {
      throw usage(`give exactly one of ${n('table')} and ${n('query')} with a PostgreSQL source`);
    }
    if (o.table) parseQualifiedName(o.table, n('table'));
    if (o.query && !/^\s*(select|with|values|table)\b/i.test(o.query)) {
      throw usage(`${n('query')} must be a SELECT (it is paged by ${n('key')})`);
    }
    if (o.maxLineBytes !== undefined) throw usage(`${n('maxLineBytes')} applies to an NDJSON source only`);
    const query = o.query?.trim().replace(/;\s*$/, '');
    if (query) checkSqlFragment(n('query'), query);
    if (o.where) checkSqlFragment(n('where'), o.where);
    return {
      kind: 'postgres',
      url: from,
      ...(o.table ? { table: o.table } : {}),
      ...(query ? { query } : {}),
      key: parseKeyColumns(o.key ?? IMPORT_DEFAULTS.key),
      ...(o.where ? { where: o.where } : {}),
      pageRows: o.pageRows ? rule.wholeNumber(n('pageRows'), o.pageRows, 1, 1_000_000) : IMPORT_DEFAULTS.pageRows,
      statementTimeoutMs: rule.duration(n('statementTimeout'), o.statementTimeout ?? IMPORT_DEFAULTS.statementTimeout),
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from)) {
    throw usage(`${n('from')} must be a postgres:// URL, an NDJSON file or - (got a ${from.split(':')[0]}: URL)`);
  }
  if (o.table || o.query || o.where) {
    throw usage(`${n('table')}, ${n('query')} and ${n('where')} need a PostgreSQL source in ${n('from')}`);
  }
  if (o.statementTimeout !== undefined) {
    throw usage(`${n('statementTimeout')} needs a PostgreSQL source in ${n('from')}`);
  }
  const maxLineBytes = rule.wholeNumber(
    n('maxLineBytes'),
    o.maxLineBytes ?? IMPORT_DEFAULTS.maxLineBytes,
    1,
    MAX_LINE_BYTES_LIMIT,
  );
  return { kind: 'ndjson', path: from, maxLineBytes };
}
