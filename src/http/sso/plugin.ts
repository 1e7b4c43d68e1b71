import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SsoError, type SsoFailure } from '../../app/sso/oidc.js';
import type { SsoSignIn } from '../../app/sso/sign-in.js';
import { assertSameOrigin, readCookie } from '../admin/console-auth.js';
import { MemoryRateLimiter } from '../limits/rate-limit.js';
import { errorHandler } from '../errors.js';

export const SSO_PREFIX = '/api/v1/sso';
export const USER_COOKIE = 'roster_user';
const FLOW_COOKIE = 'roster_sso_flow';

export interface SsoPluginOptions {
  readonly signIn: SsoSignIn;
  readonly publicUrl: () => string;
}

/** What the person is told, per failure: enough to act on, nothing of the token or the provider's answer. */
const PAGES: Record<SsoFailure, { status: number; title: string; text: string }> = {
  flow_unknown: {
    status: 400,
    title: 'This sign-in link is no longer valid',
    text: 'It was already used, has expired, or was opened in another browser. Start signing in again.',
  },
  provider_unreachable: {
    status: 502,
    title: 'Your identity provider could not be reached',
    text: 'Try again in a few minutes. If it keeps failing, tell your administrator.',
  },
  provider_refused: {
    status: 400,
    title: 'Your identity provider did not complete the sign-in',
    text: 'Start signing in again. If it keeps failing, tell your administrator.',
  },
  invalid_token: {
    status: 401,
    title: 'The sign-in could not be verified',
    text: 'Roster could not verify what your identity provider sent. Start signing in again; if it keeps failing, tell your administrator.',
  },
  expired_token: {
    status: 401,
    title: 'The sign-in has expired',
    text: "What your identity provider sent is no longer valid (check that this computer's clock is right). Start signing in again.",
  },
  domain_not_allowed: {
    status: 403,
    title: 'Your e-mail address may not sign in here',
    text: 'This account accepts sign-ins only from its own e-mail domains, with a verified address. Ask your administrator.',
  },
  claims_missing: {
    status: 400,
    title: 'Your identity provider did not say who you are',
    text: 'It sent no usable e-mail address or user name. Ask your administrator to check the claim mapping.',
  },
  deactivated: {
    status: 403,
    title: 'Your account is deactivated',
    text: 'Your administrator has deactivated your account, so you cannot sign in. Ask them to reactivate it if this is a mistake.',
  },
  no_seat: {
    status: 403,
    title: 'No seat is free for you',
    text: 'This account has used all of its seats. Ask your administrator to free one or raise the limit.',
  },
  not_configured: {
    status: 404,
    title: 'Sign-in with SSO is not set up',
    text: 'This account has no identity provider for sign-in. Ask your administrator.',
  },
};

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · Roster</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

/**
 * Sign-in with OpenID Connect for an account's people (docs/sso.md): start, the
 * provider's callback, the person's session (an HttpOnly cookie), `/api/v1/me` and
 * sign-out. The pages are plain HTML under the server's strict CSP (no script).
 */
export async function ssoPlugin(app: FastifyInstance, options: SsoPluginOptions): Promise<void> {
  const { signIn } = options;
  const secure = (): string => (options.publicUrl().startsWith('https:') ? '; Secure' : '');
  // Starting sign-ins writes a row: a client gets a generous allowance, not an unbounded one.
  const starts = new MemoryRateLimiter({ perSecond: 2, burst: 60 });
  // The sign-out button is an HTML form; its (empty) body is not read.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 1024 },
    (_request, _body, done) => done(null, {}),
  );
  app.setErrorHandler(errorHandler('admin', 'an SSO request'));

  function fail(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    if (!(error instanceof SsoError)) throw error;
    const reference = randomBytes(6).toString('hex');
    // The details are for the operator's log; the person gets the category and a reference.
    request.log.warn(
      { reference, failure: error.failure, detail: error.detail },
      'SSO sign-in refused',
    );
    const shown = PAGES[error.failure];
    return reply
      .code(shown.status)
      .header('Cache-Control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(
        page(
          shown.title,
          `<p>${escape(shown.text)}</p><p>Reference: <code>${reference}</code></p>`,
        ),
      );
  }

  type AccountReq = FastifyRequest<{
    Params: { accountId: string };
    Querystring: Record<string, unknown>;
  }>;

  app.get(`${SSO_PREFIX}/:accountId/start`, async (request: AccountReq, reply) => {
    const decision = await starts.take(request.ip);
    if (!decision.allowed)
      return reply
        .code(429)
        .header('Retry-After', String(decision.retryAfterSeconds))
        .send({
          error: {
            code: 'rate_limited',
            message: `Too many sign-ins started; try again in ${decision.retryAfterSeconds} s.`,
          },
        });
    try {
      const returnTo = request.query['returnTo'];
      const started = await signIn.start(
        request.params.accountId,
        typeof returnTo === 'string' ? returnTo : undefined,
      );
      return reply
        .header('Cache-Control', 'no-store')
        .header(
          'Set-Cookie',
          // Lax: the provider's redirect back is a top-level cross-site navigation.
          `${FLOW_COOKIE}=${started.browserSecret}; Path=${SSO_PREFIX}/; Max-Age=600; HttpOnly; SameSite=Lax${secure()}`,
        )
        .redirect(started.url, 302);
    } catch (error) {
      return fail(request, reply, error);
    }
  });

  app.get(`${SSO_PREFIX}/:accountId/callback`, async (request: AccountReq, reply) => {
    const clearFlow = `${FLOW_COOKIE}=; Path=${SSO_PREFIX}/; Max-Age=0; HttpOnly; SameSite=Lax${secure()}`;
    try {
      const done = await signIn.callback(
        request.params.accountId,
        request.query,
        readCookie(request, FLOW_COOKIE),
      );
      const maxAge = Math.max(0, Math.floor((Date.parse(done.expiresAt) - Date.now()) / 1000));
      return reply
        .header('Cache-Control', 'no-store')
        .header('Set-Cookie', [
          clearFlow,
          `${USER_COOKIE}=${done.token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure()}`,
        ])
        .redirect(done.returnTo, 303);
    } catch (error) {
      void reply.header('Set-Cookie', clearFlow);
      return fail(request, reply, error);
    }
  });

  app.get('/api/v1/me', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    const session = await signIn.authenticate(readCookie(request, USER_COOKIE));
    if (session === null)
      return reply.code(401).send({
        error: {
          code: 'unauthorized',
          message: 'Not signed in: sign in with SSO at /api/v1/sso/{account_id}/start.',
        },
      });
    return signIn.me(session);
  });

  app.get(`${SSO_PREFIX}/signed-in`, async (request, reply) => {
    const session = await signIn.authenticate(readCookie(request, USER_COOKIE));
    void reply.header('Cache-Control', 'no-store').type('text/html; charset=utf-8');
    if (session === null)
      return reply
        .code(401)
        .send(
          page(
            'You are not signed in',
            "<p>Sign in with your organisation's identity provider.</p>",
          ),
        );
    const who = session.user.displayName ?? session.user.userName;
    return reply.send(
      page(
        `Signed in as ${who}`,
        `<p>${escape(session.user.userName)}</p><form method="post" action="${SSO_PREFIX}/sign-out"><button type="submit">Sign out</button></form>`,
      ),
    );
  });

  app.post(`${SSO_PREFIX}/sign-out`, async (request, reply) => {
    // A cookie-authenticated change: it must come from this origin (no cross-site sign-out).
    // The pages send no referrer, so a form post's Origin is "null": a browser's
    // Sec-Fetch-Site (which pages cannot set) saying same-origin is enough then.
    const site = request.headers['sec-fetch-site'];
    if (!(site === 'same-origin' && (request.headers.origin ?? 'null') === 'null'))
      assertSameOrigin(request, options.publicUrl());
    const session = await signIn.authenticate(readCookie(request, USER_COOKIE));
    if (session !== null) await signIn.signOut(session);
    return reply
      .header('Cache-Control', 'no-store')
      .header('Set-Cookie', `${USER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure()}`)
      .redirect(`${SSO_PREFIX}/signed-out`, 303);
  });

  app.get(`${SSO_PREFIX}/signed-out`, async (_request, reply) =>
    reply
      .header('Cache-Control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(page('You are signed out', '<p>You can close this page.</p>')),
  );
}
