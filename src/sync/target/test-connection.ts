import { randomUUID } from 'node:crypto';
import { SCHEMAS, equalityFilter } from './dialect.js';
import {
  describeNetworkError,
  ScimTargetClient,
  TargetError,
  type TargetConfig,
} from './client.js';

export interface ConnectionCheck {
  readonly ok: boolean;
  /** One sentence an admin can act on. */
  readonly message: string;
  readonly request: string;
  readonly status: number | null;
  readonly body?: string;
  readonly durationMs: number;
}

/**
 * Test connection as Entra does it: a filter on the matching attribute for a random GUID.
 * 200 with an empty ListResponse passes; anything else is explained (401/403, 404 on a
 * query, a body that is not SCIM, TLS, a timeout).
 */
export async function testConnection(
  target: TargetConfig,
  matchingAttribute = 'userName',
): Promise<ConnectionCheck> {
  const started = performance.now();
  const path = `/Users?filter=${encodeURIComponent(equalityFilter(matchingAttribute, randomUUID()))}`;
  const request = `GET ${target.url.replace(/\/+$/, '')}${path}`;
  const done = (
    ok: boolean,
    message: string,
    status: number | null,
    body?: string,
  ): ConnectionCheck => ({
    ok,
    message,
    request,
    status,
    ...(body !== undefined ? { body: body.slice(0, 2000) } : {}),
    durationMs: Math.round(performance.now() - started),
  });
  let client: ScimTargetClient;
  try {
    client = new ScimTargetClient({ ...target, maxAttempts: 1, maxThrottleWaits: 0 });
  } catch (error) {
    return done(false, (error as Error).message, null);
  }
  let response;
  try {
    response = await client.request('GET', path);
  } catch (error) {
    const message =
      error instanceof TargetError
        ? error.message
        : describeNetworkError(error, target.timeoutMs ?? 30_000);
    return done(false, `the target could not be reached: ${message}`, null);
  }
  const { status, text } = response;
  if (status === 401 || status === 403)
    return done(
      false,
      `the target refused the token (HTTP ${status}): check the secret token`,
      status,
      text,
    );
  if (status === 404)
    return done(
      false,
      'HTTP 404 on a query: the tenant URL is wrong, or the endpoint does not answer filtered queries (Entra quarantines such a target)',
      status,
      text,
    );
  if (status === 429)
    return done(false, 'the target is throttling (HTTP 429); try again later', status, text);
  if (status !== 200) return done(false, `unexpected HTTP ${status} on a query`, status, text);
  const body = response.body as { schemas?: unknown; totalResults?: unknown; Resources?: unknown };
  if (typeof body !== 'object' || body === null)
    return done(false, 'the answer is not JSON: is the tenant URL a SCIM endpoint?', status, text);
  const isList =
    (Array.isArray(body.schemas) && body.schemas.includes(SCHEMAS.list)) ||
    typeof body.totalResults === 'number';
  if (!isList)
    return done(
      false,
      'the answer is not a SCIM ListResponse: is the tenant URL a SCIM endpoint?',
      status,
      text,
    );
  const found = Array.isArray(body.Resources) ? body.Resources.length : Number(body.totalResults);
  if (found !== 0)
    return done(
      false,
      `a filter for a random value of ${matchingAttribute} found ${found} users: the target ignores filters`,
      status,
      text,
    );
  return done(true, 'the target answered the query as SCIM expects', status);
}
