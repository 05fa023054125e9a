/**
 * The one scanner of JSON text. Rows travel as the JSON text the source produced, never parsed
 * and re-serialised (a bigint or a 30-digit numeric keeps every digit), so finding where a value
 * ends means tracking only strings (with their escapes) and nesting. These functions assume text
 * that is valid JSON or a comma-separated run of valid JSON values; on other text they stop at
 * the end instead of failing. Character codes, not characters: this runs on every row of a batch.
 */

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,
const COLON = 0x3a; // :
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }

/** The index of the quote closing the string whose opening quote is at `quote`, or text.length. */
export function stringEnd(text: string, quote: number): number {
  for (let i = quote + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return text.length;
}

/**
 * Where the value (or member) that starts at `from` ends: the index of the first comma at the
 * nesting level of `from`, or of the bracket that closes the array or object `from` is inside,
 * or text.length when neither comes. Stops there, so a caller with a budget scans no further
 * than it needs.
 */
export function valueEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth === 0) return i;
      depth--;
    } else if (c === COMMA && depth === 0) return i;
  }
  return text.length;
}

/**
 * valueEnd over UTF-8 bytes, within [from, end): the same scan, since every byte of a multi-byte
 * character is ≥ 0x80 and so never mistaken for a quote, bracket or comma. Queue mode cuts rows
 * this way straight from the bytes the source read, so no JS string of them is ever made.
 */
export function byteValueEnd(bytes: Uint8Array, from: number, end: number): number {
  let depth = 0;
  for (let i = from; i < end; i++) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      for (i++; i < end; i++) {
        const d = bytes[i];
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth === 0) return i;
      depth--;
    } else if (c === COMMA && depth === 0) return i;
  }
  return end;
}

/** The index of the next `[` or `{` at or after `from` outside strings, or text.length. */
function nextOpener(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) return i;
  }
  return text.length;
}

/**
 * Splits the text of a JSON array into the texts of its elements (trimmed) without parsing them.
 * Empty elements (`[ ]`) are left out; an array that is never closed yields its closed elements.
 */
export function splitJsonArray(text: string): string[] {
  const out: string[] = [];
  for (let open = nextOpener(text, 0); open < text.length; open = nextOpener(text, open)) {
    let start = open + 1;
    for (;;) {
      const end = valueEnd(text, start);
      if (end === text.length) return out;
      const element = text.slice(start, end).trim();
      if (element.length > 0) out.push(element);
      start = end + 1;
      if (text.charCodeAt(end) !== COMMA) break;
    }
    open = start;
  }
  return out;
}

/**
 * The [start, end) of a top-level member's value in an object's JSON text (the first member of
 * that name), whitespace around the value included. JSON.parse cannot hand back a value's source
 * text on Node 20, and re-serialising rows would round big numbers.
 */
export function memberSpan(text: string, name: string): [number, number] | undefined {
  const open = nextOpener(text, 0);
  if (text.charCodeAt(open) !== OPEN_OBJECT) return undefined;
  for (let at = open + 1; at < text.length; ) {
    const key = nextNonSpace(text, at);
    if (text.charCodeAt(key) !== QUOTE) return undefined; // `}` of an empty object
    const keyEnd = stringEnd(text, key);
    const colon = nextNonSpace(text, keyEnd + 1);
    if (text.charCodeAt(colon) !== COLON) return undefined;
    const end = valueEnd(text, colon + 1);
    if (end === text.length) return undefined;
    if (keyIs(text, key, keyEnd, name)) return [colon + 1, end];
    if (text.charCodeAt(end) !== COMMA) return undefined;
    at = end + 1;
  }
  return undefined;
}

function nextNonSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text.charAt(i))) i++;
  return i;
}

/** Whether the key string at [quote, closing] is `name`, decoding escapes only when there are some. */
function keyIs(text: string, quote: number, closing: number, name: string): boolean {
  const raw = text.slice(quote + 1, closing);
  return raw.includes('\\') ? JSON.parse(text.slice(quote, closing + 1)) === name : raw === name;
}
