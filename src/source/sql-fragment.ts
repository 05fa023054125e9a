import { usage } from '../errors.js';

/**
 * Checks a user's `--where` or `--query` before it is pasted into the tool's own SQL, by
 * reading it the way PostgreSQL's lexer does: strings ('…', E'…' with backslash escapes,
 * $tag$…$tag$), quoted identifiers ("…") and comments (-- to the end of the line, nested
 * /* … *\/) are skipped; everything else must have balanced brackets and no `;`.
 *
 * Why it matters: the text goes inside brackets of a statement the tool builds. A `)` that
 * closes nothing escapes them: `1=1) OR (1=1` turned the watermark condition into `OR` (every
 * page restarted at the first key, forever), and inside `COPY (…) TO STDOUT` an escaped
 * fragment could even name another destination (`) TO '/file' --`). A `;` starts a second
 * statement. An unclosed quote or comment would swallow the tool's text after it. The server
 * is the second line of defence (read-only transactions, one statement per Parse); this is
 * the first, and it gives one clear line instead of an SQL error.
 */
export function checkSqlFragment(flag: string, text: string): void {
  const fail = (why: string, at: number): never => {
    throw usage(`${flag} ${why} at character ${at + 1} (got ${JSON.stringify(text)})`);
  };
  const open: { ch: string; at: number }[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      i = endOfLine(text, i);
    } else if (c === '/' && next === '*') {
      i = endOfBlockComment(text, i) ?? fail('has an unclosed /* comment', i);
    } else if (c === "'") {
      i = endOfQuoted(text, i, "'", false) ?? fail('has an unclosed quote', i);
    } else if (c === '"') {
      i = endOfQuoted(text, i, '"', false) ?? fail('has an unclosed double quote', i);
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i))?.[0];
      if (tag) {
        const close = text.indexOf(tag, i + tag.length);
        if (close < 0) fail(`has an unclosed ${tag} string`, i);
        i = close + tag.length;
      } else i = skipWhile(text, i + 1, /[0-9]/); // $1: a parameter
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      // A whole word at once: `$` and digits inside a name are part of it, never a quote.
      const end = skipWhile(text, i + 1, /[A-Za-z0-9_$\u0080-\uffff]/);
      const word = text.slice(i, end);
      if (/^[eE]$/.test(word) && text[end] === "'") {
        i = endOfQuoted(text, end, "'", true) ?? fail('has an unclosed quote', end);
      } else i = end;
    } else if (c === '(' || c === '[') {
      open.push({ ch: c, at: i++ });
    } else if (c === ')' || c === ']') {
      const want = c === ')' ? '(' : '[';
      const top = open.pop();
      if (!top) fail(`has a "${c}" that closes nothing`, i);
      else if (top.ch !== want) fail(`has a "${c}" that does not match the "${top.ch}" at character ${top.at + 1}`, i);
      i++;
    } else if (c === ';') {
      fail('holds a ";": give one condition or one SELECT, not several statements', i);
    } else i++;
  }
  const unclosed = open.pop();
  if (unclosed) fail(`has a "${unclosed.ch}" that is never closed`, unclosed.at);
}

function endOfLine(text: string, from: number): number {
  const end = text.slice(from).search(/[\r\n]/);
  return end < 0 ? text.length : from + end + 1;
}

/** PostgreSQL's block comments nest. */
function endOfBlockComment(text: string, from: number): number | undefined {
  let depth = 0;
  let i = from;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return undefined;
}

/** A doubled quote is a quote; with backslash escapes (E'…') a backslash escapes any character. */
function endOfQuoted(text: string, from: number, quote: string, backslash: boolean): number | undefined {
  let i = from + 1;
  while (i < text.length) {
    const c = text[i];
    if (backslash && c === '\\') i += 2;
    else if (c === quote && text[i + 1] === quote) i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return undefined;
}

function skipWhile(text: string, from: number, pattern: RegExp): number {
  let i = from;
  while (i < text.length && pattern.test(text[i] as string)) i++;
  return i;
}
