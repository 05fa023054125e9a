import { usage } from '../errors.js';

/** `"a""b"`: the only safe way to put a name into SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Splits a user's `--table` into its parts: `public.listings`, `"My Schema"."Weird.Name"` and
 * `public.Weird Name` all work. A part in double quotes is taken literally (with `""` for a
 * quote); an unquoted part is taken as typed, case included, because people copy names from
 * `\d` output and expect them to match.
 */
export function parseQualifiedName(input: string, flag = '--table'): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i <= input.length) {
    let part = '';
    if (input[i] === '"') {
      i++;
      for (;;) {
        if (i >= input.length) throw usage(`${flag} has an unclosed quote (got ${JSON.stringify(input)})`);
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += input[i++];
      }
      if (i < input.length && input[i] !== '.')
        throw usage(`${flag}: unexpected text after a quoted name (got ${JSON.stringify(input)})`);
    } else {
      const dot = input.indexOf('.', i);
      const end = dot < 0 ? input.length : dot;
      part = input.slice(i, end).trim();
      i = end;
    }
    if (part.length === 0) throw usage(`${flag} has an empty name part (got ${JSON.stringify(input)})`);
    parts.push(part);
    i++; // skip the dot
  }
  if (parts.length > 3) throw usage(`${flag} has too many dots (got ${JSON.stringify(input)})`);
  return parts;
}

export function qualifiedTable(input: string): string {
  return parseQualifiedName(input).map(quoteIdent).join('.');
}

/** `id` or `a,b` → column names, each possibly quoted. */
export function parseKeyColumns(input: string): string[] {
  const cols = splitTopLevel(input).map((c) => {
    const parts = parseQualifiedName(c.trim(), '--key');
    if (parts.length !== 1) throw usage(`--key takes column names without a table (got ${JSON.stringify(c)})`);
    return parts[0] as string;
  });
  if (new Set(cols).size !== cols.length) throw usage(`--key names a column twice (got ${JSON.stringify(input)})`);
  return cols;
}

function splitTopLevel(input: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of input) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}
