import { isSecretHeader, redactUrl, secretsOf } from '../redact.js';

/**
 * The command line is echoed twice: in error messages (a driver may repeat a value) and in the
 * resume command printed after a stop. Both go through here, so every spelling of a header
 * flag (`--header V`, `--header=V`, `-H V`, `-HV`) and every URL password and secret query
 * parameter (`--to V`, `--to=V`, and a mistyped `--form=V` too) is masked.
 */

/** The value part of `--flag=value`, or the argument itself. */
function flagValue(arg: string): { prefix: string; value: string } {
  const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
  return eq > 2 ? { prefix: arg.slice(0, eq + 1), value: arg.slice(eq + 1) } : { prefix: '', value: arg };
}

/** The value of a header flag at argv[i], and how many arguments it spans, or undefined. */
function headerAt(argv: readonly string[], i: number): { value: string; span: 1 | 2; prefix: string } | undefined {
  const a = argv[i] as string;
  if (a === '--header' || a === '-H') return { value: argv[i + 1] ?? '', span: 2, prefix: '' };
  if (a.startsWith('--header=')) return { value: a.slice(9), span: 1, prefix: '--header=' };
  if (a.startsWith('-H') && a.length > 2 && !a.startsWith('--')) return { value: a.slice(2), span: 1, prefix: '-H' };
  return undefined;
}

/** A header given on the command line, masked when secret (or when it cannot be told apart). */
function maskHeader(h: string): string {
  const colon = h.indexOf(':');
  if (colon <= 0) return '***';
  return isSecretHeader(h.slice(0, colon).trim()) ? `${h.slice(0, colon)}: ***` : h;
}

/** Secret values on the command line, for makeRedactor. */
export function secretArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    const h = headerAt(argv, i);
    if (h) {
      const colon = h.value.indexOf(':');
      const name = colon > 0 ? h.value.slice(0, colon).trim() : '';
      const value = colon > 0 ? h.value.slice(colon + 1).trim() : h.value;
      if (colon <= 0 || isSecretHeader(name)) {
        // The whole value and each word of it: messages may quote "Bearer x" or just "x".
        out.push(value, ...value.split(/\s+/).filter((w) => w.length >= 6));
      }
    }
    for (const m of a.matchAll(/\/\/[^:/@\s]+:([^@\s/]+)@/g)) if (m[1]) out.push(m[1], safeDecode(m[1]));
    out.push(...secretsOf([flagValue(a).value], {}));
  });
  return out;
}

/** argv with secret header values and URL passwords masked, for printing. */
export function maskArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const h = headerAt(argv, i);
    if (h?.span === 2) {
      out.push(argv[i] as string, maskHeader(h.value));
      i++;
    } else if (h) out.push(`${h.prefix}${maskHeader(h.value)}`);
    else {
      const { prefix, value } = flagValue(argv[i] as string);
      out.push(`${prefix}${redactUrl(value)}`);
    }
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
