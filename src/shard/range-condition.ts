import { quoteLiteral } from '../source/copy-out.js';
import { quoteIdent } from '../source/sql.js';
import type { ShardRange } from './shard-plan.js';

/**
 * A shard's range as one SQL condition on the full key, compared as a row value:
 * `(a, b) > ('1', 'x') AND (a, b) <= ('7', 'q')`. It is the same comparison keyset paging
 * uses, so an index on the key serves both. Values go in as quoted text the server casts to
 * the key's types. Joined to the user's --where, whose text stays on lines of its own so a
 * trailing `--` comment cannot hide the range.
 */
export function whereWithRange(key: readonly string[], range: ShardRange, where?: string): string | undefined {
  const cols = `(${key.map(quoteIdent).join(', ')})`;
  const tuple = (t: readonly string[]) => `(${t.map(quoteLiteral).join(', ')})`;
  const conds: string[] = [];
  if (range.after) conds.push(`${cols} > ${tuple(range.after)}`);
  if (range.upTo) conds.push(`${cols} <= ${tuple(range.upTo)}`);
  if (where) conds.push(`(\n${where}\n)`);
  return conds.length ? conds.join('\nAND ') : undefined;
}
