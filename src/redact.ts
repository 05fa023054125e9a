/**
 * The one place secrets are masked. The logger, the summary, the checkpoint writer and the
 * failed-row writer all go through here, so a password or token cannot leak by one of them
 * forgetting.
 */
const MASK = '***';

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);
const SECRET_WORDS = /token|secret|password|passwd|api-?key|apikey|credential|session/i;

export function isSecretHeader(name: string): boolean {
  const lower = name.toLowerCase();
  if (lower === 'idempotency-key') return false;
  return SECRET_HEADERS.has(lower) || SECRET_WORDS.test(lower);
}

/** `postgres://user:pw@host/db?password=x` → `postgres://user:***@host/db?password=***`. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not a URL (a file path, `-`): still mask anything that looks like user:password@.
    return raw.replace(/\/\/([^/:@\s]+):[^@\s/]*@/, `//$1:${MASK}@`);
  }
  if (url.password) url.password = MASK;
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_WORDS.test(name) || name.toLowerCase() === 'sslkey') url.searchParams.set(name, MASK);
  }
  return url.toString();
}

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretHeader(name) ? MASK : value;
  return out;
}

/**
 * Masks known secret values wherever they appear in free text (an error from a driver may echo
 * a connection string or a header). Values shorter than 4 characters are left alone: masking
 * every "a" in a message would make it unreadable and protects nothing.
 */
export function makeRedactor(secrets: Iterable<string>): (text: string) => string {
  const values = [...new Set([...secrets].filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text.replace(/(\w+:\/\/[^/:@\s]+):[^@\s/]*@/g, `$1:${MASK}@`);
    for (const v of values) out = out.split(v).join(MASK);
    return out;
  };
}

/** The secret values in a URL and a header map, for makeRedactor. */
export function secretsOf(urls: readonly string[], headers: Readonly<Record<string, string>>): string[] {
  const found: string[] = [];
  for (const raw of urls) {
    try {
      const url = new URL(raw);
      if (url.password) found.push(decodeURIComponent(url.password), url.password);
      for (const [name, value] of url.searchParams) if (SECRET_WORDS.test(name)) found.push(value);
    } catch {
      /* not a URL: nothing to collect */
    }
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!isSecretHeader(name)) continue;
    found.push(value);
    // "Bearer abc" leaks as "abc" in some messages: mask the credential part too.
    const space = value.indexOf(' ');
    if (space > 0) found.push(value.slice(space + 1));
  }
  return found;
}
