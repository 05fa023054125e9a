/**
 * The one place secrets are masked. The logger, the summary, the checkpoint writer and the
 * failed-row writer all go through here, so a password or token cannot leak by one of them
 * forgetting.
 */
const MASK = '***';

/**
 * A query parameter or header whose name contains one of these words carries a credential. The
 * rule is broad on purpose (`api_key`, `sig`, `X-Amz-Signature`, `Ocp-Apim-Subscription-Key`,
 * `X-Auth-Key`, any `*-key`, and also `monkey` or `author`): masking a harmless value costs a
 * little readability, missing a new spelling of a key leaks it.
 */
const SECRET_WORDS = /key|sig|token|secret|pass|pwd|auth|credential|session|cookie/i;

/** Names the broad rule would catch that are known not to be secret and help to see. */
const NOT_SECRET = new Set(['idempotency-key']);

export function isSecretHeader(name: string): boolean {
  const lower = name.trim().toLowerCase();
  return !NOT_SECRET.has(lower) && SECRET_WORDS.test(lower);
}

/** Whether a URL query parameter's value is a secret, by its (decoded) name. */
export function isSecretParam(name: string): boolean {
  return SECRET_WORDS.test(name);
}

/** `?a=1&api_key=x#f` → `?a=1&api_key=***#f`: other parameters keep their exact spelling. */
function redactQuery(text: string): string {
  return text.replace(/([?&;]([^=&;#?\s]+)=)([^&;#\s]*)/g, (all, head: string, name: string, value: string) =>
    value.length > 0 && isSecretParam(safeDecode(name)) ? `${head}${MASK}` : all,
  );
}

/** The user name of an http(s) URL without a password is a token (`https://ghp_x@host/`). */
function tokenUser(url: URL): boolean {
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.username !== '' && url.password === '';
}

/** `postgres://user:pw@host/db?password=x` → `postgres://user:***@host/db?password=***`. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not a URL (a file path, `-`, a flag with its value): still mask user:password@ and secret parameters.
    return redactQuery(raw.replace(/\/\/([^/:@\s]+):[^@\s/]*@/g, `//$1:${MASK}@`));
  }
  if (url.password) url.password = MASK;
  if (tokenUser(url)) url.username = MASK;
  if (url.search) url.search = redactQuery(url.search);
  return url.toString();
}

export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = isSecretHeader(name) ? MASK : value;
  return out;
}

/**
 * Masks known secret values wherever they appear in free text (an error from a driver may echo
 * a connection string or a header), and the password and secret parameters of any URL in it.
 * Values shorter than 4 characters are left alone: masking every "a" in a message would make it
 * unreadable and protects nothing.
 */
export function makeRedactor(secrets: Iterable<string>): (text: string) => string {
  const values = [...new Set([...secrets].filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = redactQuery(text.replace(/(\w+:\/\/[^/:@\s]+):[^@\s/]*@/g, `$1:${MASK}@`));
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
      if (url.password) found.push(safeDecode(url.password), url.password);
      if (tokenUser(url)) found.push(safeDecode(url.username), url.username);
      // Both spellings: a message may quote the parameter decoded or as written.
      for (const m of url.search.matchAll(/[?&;]([^=&;#\s]+)=([^&;#\s]*)/g)) {
        const [, name = '', value = ''] = m;
        if (isSecretParam(safeDecode(name))) found.push(value, safeDecode(value.replaceAll('+', ' ')));
      }
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
