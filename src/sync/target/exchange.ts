/**
 * The raw request to the target and its answer, as a provisioning log entry keeps them so
 * an admin can see exactly what was sent and what came back. Secrets never reach it: the
 * Authorization header and bearer tokens are replaced, `password`-like values in JSON
 * bodies and secret-looking query parameters are masked, and the job's token is cut out of
 * any text that echoes it. Bodies are cut at a size limit, and say so.
 */
export interface TargetExchange {
  readonly request: {
    readonly method: string;
    readonly url: string;
    readonly headers: Readonly<Record<string, string>>;
    /** The body as sent (JSON text, redacted), or null without one. */
    readonly body: string | null;
    readonly bodyTruncated?: true;
  };
  /** Null when no answer came (network error or timeout: `error` says which). */
  readonly response: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: string;
    readonly bodyTruncated?: true;
  } | null;
  readonly error?: string;
}

export const REDACTED = '[redacted]';
/** Bodies kept per log entry: failures keep up to 16 KiB, successes 2 KiB. */
export const FAILURE_BODY_LIMIT = 16 * 1024;
export const SUCCESS_BODY_LIMIT = 2 * 1024;

/** JSON keys whose values are secrets (case-insensitive, anywhere in a body). */
const SECRET_KEY =
  /pass(word|wd|phrase)?|secret|token|api[-_]?key|credential|private[-_]?key|authorization|^pwd$/i;
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$/i;

/** A URL with secret-looking query parameters (token=, api_key=, password=, sig=…) masked. */
export function redactUrl(url: string): string {
  const [base, query] = splitQuery(url);
  if (query === undefined) return url;
  const parts = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    let name: string;
    try {
      name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' '));
    } catch {
      name = pair.slice(0, eq);
    }
    return SECRET_KEY.test(name) || /^(sig|signature|code|key)$/i.test(name)
      ? `${pair.slice(0, eq)}=${REDACTED}`
      : pair;
  });
  return `${base}?${parts.join('&')}`;
}

function splitQuery(url: string): [string, string | undefined] {
  const q = url.indexOf('?');
  return q < 0 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}

/** Headers with credentials replaced (a bearer token keeps its scheme: `Bearer [redacted]`). */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!SECRET_HEADER.test(name)) out[name] = value;
    else {
      const scheme = /^(\w+)\s+\S/.exec(value)?.[1];
      out[name] = scheme !== undefined ? `${scheme} ${REDACTED}` : REDACTED;
    }
  }
  return out;
}

/** A JSON value with every secret-named member's value replaced (deeply). */
export function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>))
    out[key] =
      SECRET_KEY.test(key) && v !== null && typeof v !== 'object' ? REDACTED : redactJson(v);
  return out;
}

/** Body text redacted: parsed as JSON when it is, else bearer tokens masked in the text. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null)
      out = JSON.stringify(redactJson(parsed), null, 2);
  } catch {
    // not JSON: kept as text
  }
  out = out.replace(/(bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1${REDACTED}`);
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  return out;
}

function cut(text: string, limit: number): { body: string; bodyTruncated?: true } {
  if (text.length <= limit) return { body: text };
  return {
    body: `${text.slice(0, limit)}\n… [truncated: ${text.length - limit} more characters not kept]`,
    bodyTruncated: true,
  };
}

/** The exchange as kept: redacted, with each body cut at `limit` characters. */
export function keptExchange(
  raw: {
    method: string;
    url: string;
    requestHeaders: Record<string, string>;
    requestBody: string | null;
    status?: number;
    responseHeaders?: Headers | Record<string, string>;
    responseBody?: string;
    error?: string;
  },
  secrets: readonly string[],
  limit = FAILURE_BODY_LIMIT,
): TargetExchange {
  const request =
    raw.requestBody === null ? { body: null } : cut(redactText(raw.requestBody, secrets), limit);
  const headers: Record<string, string> = {};
  if (raw.responseHeaders instanceof Headers)
    raw.responseHeaders.forEach((v, k) => (headers[k] = v));
  else if (raw.responseHeaders !== undefined) Object.assign(headers, raw.responseHeaders);
  return {
    request: {
      method: raw.method,
      url: redactUrl(raw.url),
      headers: redactHeaders(raw.requestHeaders),
      ...request,
    },
    response:
      raw.status === undefined
        ? null
        : {
            status: raw.status,
            headers: redactHeaders(headers),
            ...cut(redactText(raw.responseBody ?? '', secrets), limit),
          },
    ...(raw.error !== undefined ? { error: raw.error } : {}),
  };
}

/** A kept exchange cut further (a success keeps less than a failure). */
export function shortened(exchange: TargetExchange, limit: number): TargetExchange {
  const request = exchange.request;
  const response = exchange.response;
  return {
    ...exchange,
    request:
      request.body === null || request.body.length <= limit
        ? request
        : { ...request, ...cut(request.body, limit) },
    response:
      response === null || response.body.length <= limit
        ? response
        : { ...response, ...cut(response.body, limit) },
  };
}
