import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

let csrfToken = '';

/** The CSRF token of the sign-in, sent back in X-CSRF-Token on every change. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

let onSignedOut: () => void = () => undefined;
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

const middleware: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      request.headers.set('X-CSRF-Token', csrfToken);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.endsWith('/console/session')) onSignedOut();
    return response;
  },
};

/** The typed admin API client: types generated from the admin API's OpenAPI document. */
export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(middleware);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Unwraps an openapi-fetch answer: the data, or an ApiError with the API's message. */
export async function must<R extends { data?: unknown; error?: unknown; response: Response }>(
  call: Promise<R>,
): Promise<NonNullable<R['data']>> {
  const { data, error, response } = await call;
  if (error !== undefined || !response.ok) {
    const message =
      (error as { error?: { message?: string } } | undefined)?.error?.message ??
      `The server answered ${response.status}.`;
    throw new ApiError(response.status, message);
  }
  return data as NonNullable<R['data']>;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
