import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  authenticateConsole,
  consoleLogin,
  consoleSignIn,
  consoleSignOut,
  csrfMatches,
  csrfTokenFor,
} from '../../app/console/sessions.js';
import { SESSION_HOURS } from '../../app/sessions.js';
import type { Stores } from '../../app/stores.js';
import { MemoryRateLimiter } from '../limits/rate-limit.js';
import { RestError } from '../errors.js';

export const SESSION_COOKIE = 'roster_session';
export const CSRF_HEADER = 'x-csrf-token';
/** The cookie only travels to the admin API, never to SCIM, REST or the page assets. */
const COOKIE_PATH = '/api/v1/admin';
const MAX_CONCURRENT_SIGN_INS = 2;

export interface ConsoleAuthOptions {
  readonly stores: Stores;
  readonly publicUrl: () => string;
}

/** The value of one cookie of the request, if present. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sessionCookie(publicUrl: string, value: string, maxAgeSeconds: number): string {
  const secure = publicUrl.startsWith('https:') ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`;
}

/**
 * Cross-site request check for cookie-authenticated state changes: the browser must say
 * the request comes from this origin (Sec-Fetch-Site: same-origin, and an Origin equal to
 * this server's). A request with neither header is not from a modern browser page and
 * is refused too: scripts use bearer tokens.
 */
export function assertSameOrigin(request: FastifyRequest, publicUrl: string): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (site === undefined && origin === undefined)
    throw new RestError(
      403,
      'forbidden',
      'Cross-site request refused: a cookie-authenticated change must come from the console (Origin header missing).',
    );
  if (site !== undefined && site !== 'same-origin')
    throw new RestError(
      403,
      'forbidden',
      `Cross-site request refused (Sec-Fetch-Site: ${String(site)}).`,
    );
  if (origin !== undefined) {
    const allowed = new Set<string>([`${request.protocol}://${request.host}`]);
    try {
      allowed.add(new URL(publicUrl).origin);
    } catch {
      // PUBLIC_URL is validated at start-up; nothing to add when it is not a URL.
    }
    if (!allowed.has(origin))
      throw new RestError(403, 'forbidden', `Cross-site request refused (Origin: ${origin}).`);
  }
}

function isStateChange(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/**
 * Cookie sessions for the console, beside the bearer session tokens scripts use.
 * Adds the console sign-in routes and an onRequest hook that authenticates
 * `/accounts/{id}/...` requests by cookie when they carry no Authorization header,
 * enforcing the CSRF checks (same origin + X-CSRF-Token) on every state change.
 */
export async function consoleAuth(
  app: FastifyInstance,
  options: ConsoleAuthOptions,
): Promise<void> {
  const stores = options.stores;

  app.addHook(
    'onRequest',
    async (request: FastifyRequest<{ Params: { accountId?: string } }>, reply) => {
      const accountId = (request.params as { accountId?: string } | undefined)?.accountId;
      if (accountId === undefined) return;
      if (request.headers.authorization !== undefined) return; // bearer: the plugin's own hook
      const secret = readCookie(request, SESSION_COOKIE);
      if (secret === undefined) return;
      const session = await authenticateConsole(stores, secret, accountId);
      if (session === null) {
        void reply.header('Cache-Control', 'no-store');
        throw new RestError(
          401,
          'unauthorized',
          'Your console session has ended or does not cover this account: sign in again.',
        );
      }
      if (isStateChange(request.method)) {
        assertSameOrigin(request, options.publicUrl());
        const token = request.headers[CSRF_HEADER];
        if (!csrfMatches(session.csrfHash, typeof token === 'string' ? token : undefined))
          throw new RestError(
            403,
            'forbidden',
            'CSRF token missing or wrong: send the X-CSRF-Token header the console got at sign-in.',
          );
      }
      request.adminSession = {
        sessionId: session.sessionId,
        adminId: session.adminId,
        accountId: session.accountId,
      };
    },
  );

  const perAddress = new MemoryRateLimiter({ perSecond: 1, burst: 50 });
  const perEmail = new MemoryRateLimiter({ perSecond: 1 / 6, burst: 10 });
  let checking = 0;
  async function guard(request: FastifyRequest, reply: FastifyReply, email: string): Promise<void> {
    for (const [limiter, key] of [
      [perAddress, request.ip],
      [perEmail, email.trim().toLowerCase()],
    ] as const) {
      const decision = await limiter.take(key);
      if (!decision.allowed) {
        void reply.header('Retry-After', String(decision.retryAfterSeconds));
        throw new RestError(
          429,
          'rate_limited',
          `Too many sign-in attempts; try again in ${decision.retryAfterSeconds} s.`,
        );
      }
    }
    if (checking >= MAX_CONCURRENT_SIGN_INS) {
      void reply.header('Retry-After', '1');
      throw new RestError(429, 'rate_limited', 'Too many sign-ins at once; try again in a second.');
    }
    checking++;
    reply.raw.once('close', () => void checking--);
  }

  app.post('/console/session', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    assertSameOrigin(request, options.publicUrl()); // no login CSRF
    const body = request.body as Record<string, unknown> | null;
    const email = body?.['email'];
    const password = body?.['password'];
    if (
      typeof email !== 'string' ||
      email.trim() === '' ||
      typeof password !== 'string' ||
      password === ''
    )
      throw new RestError(400, 'invalid_request', 'Enter your e-mail address and password.');
    await guard(request, reply, email);
    const login = await consoleSignIn(stores, { email, password });
    if (login === null)
      throw new RestError(
        401,
        'unauthorized',
        'Sign-in failed: check your e-mail address and password. Only active account admins can sign in.',
      );
    void reply.header(
      'Set-Cookie',
      sessionCookie(options.publicUrl(), login.secret, SESSION_HOURS * 3600),
    );
    return reply.code(201).send({
      email: login.email,
      accounts: login.accounts.map(({ accountId, accountName }) => ({ accountId, accountName })),
      csrfToken: login.csrfToken,
      expiresAt: login.expiresAt,
    });
  });

  app.get('/console/session', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    const secret = readCookie(request, SESSION_COOKIE);
    const login = secret === undefined ? null : await consoleLogin(stores, secret);
    if (login === null) throw new RestError(401, 'unauthorized', 'Not signed in to the console.');
    return {
      email: login.email,
      accounts: login.accounts.map(({ accountId, accountName }) => ({ accountId, accountName })),
      csrfToken: csrfTokenFor(secret!),
    };
  });

  app.delete('/console/session', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    const secret = readCookie(request, SESSION_COOKIE);
    const login = secret === undefined ? null : await consoleLogin(stores, secret);
    if (login !== null) {
      assertSameOrigin(request, options.publicUrl());
      const token = request.headers[CSRF_HEADER];
      if (!csrfMatches(login.csrfHash, typeof token === 'string' ? token : undefined))
        throw new RestError(403, 'forbidden', 'CSRF token missing or wrong.');
      await consoleSignOut(stores, login.loginId);
    }
    void reply.header('Set-Cookie', sessionCookie(options.publicUrl(), '', 0));
    return reply.code(204).send();
  });
}
