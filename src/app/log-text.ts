/**
 * Text that ends up in a log (the provisioning log's table, the server's log lines) comes
 * from clients: it must be storable on both databases and must not carry credentials.
 */

/**
 * A string PostgreSQL `text` (and `jsonb`) can store: U+0000 (error 22021) becomes U+FFFD,
 * and so does each unpaired UTF-16 surrogate (which UTF-8 cannot encode).
 */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}

/** U+0000, a high surrogate not followed by a low one, a low surrogate not preceded by a high one. */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what must be found
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** True when storableText would change the text. */
export function isStorableText(text: string): boolean {
  UNSTORABLE.lastIndex = 0;
  return !UNSTORABLE.test(text);
}

/** storableText for an optional value. */
export function storableOrNull(text: string | null): string | null {
  return text === null ? null : storableText(text);
}

/**
 * Query parameters whose value is a credential or a secret, compared in lower case,
 * ignoring `-` and `_` (`access_token`, `Access-Token`, `accesstoken`).
 */
const SECRET_PARAMS = new Set([
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'token',
  'apikey',
  'key',
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'clientsecret',
  'code',
  'auth',
  'authorization',
  'sig',
  'signature',
  'session',
  'sessionid',
  'bearer',
  'credential',
  'credentials',
]);

export const REDACTED = '[redacted]';

function isSecretName(rawName: string): boolean {
  let name: string;
  try {
    name = decodeURIComponent(rawName.replaceAll('+', ' '));
  } catch {
    name = rawName;
  }
  const key = name.toLowerCase().replace(/[-_\s]/g, '');
  return (
    SECRET_PARAMS.has(key) ||
    key.endsWith('token') ||
    key.endsWith('secret') ||
    key.endsWith('password')
  );
}

/**
 * The request target (path and query) with the value of every secret-looking query
 * parameter replaced by `[redacted]`; the rest is kept byte for byte. A credential sent
 * in a URL (`?access_token=rst_...`) never reaches a log line or the provisioning log.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1);
  let changed = false;
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !isSecretName(name)) return part;
    changed = true;
    return `${name}=${REDACTED}`;
  });
  return changed ? `${url.slice(0, q)}?${parts.join('&')}` : url;
}
