import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { AccountGate } from '../app/account-gate.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../app/limits.js';
import type { ProvisioningLog } from '../app/provisioning-log.js';
import { errorBody, ScimError } from '../core/errors.js';
import type { WebhookDispatcher } from '../app/webhooks/dispatcher.js';
import type { RosterDatabase } from '../storage/connect.js';
import { DEFAULT_TIMEOUTS, type HttpTimeouts } from './limits/config.js';
import { drainOnClose } from './limits/drain.js';
import { registerObservability } from './observability/metrics.js';
import {
  DEFAULT_CONNECTION_LIMITS,
  handleClientError,
  lingerAfterEarlyAnswers,
  limitConnections,
  type ConnectionLimits,
} from './limits/edges.js';
import { MAX_BODY_DEPTH, unstorableJson } from './limits/guard.js';
import { rateLimitHeaders, type RateLimiter } from './limits/rate-limit.js';
import { ADMIN_PREFIX, adminPlugin } from './admin/plugin.js';
import { consolePlugin } from './console/plugin.js';
import { requireAccount } from '../app/accounts.js';
import { DEFAULT_OIDC_OPTIONS, OidcClient } from '../app/sso/oidc.js';
import { ssoKeyFromEnv } from '../app/sso/secret-box.js';
import { SsoSignIn } from '../app/sso/sign-in.js';
import type { Stores } from '../app/stores.js';
import { createStores } from '../storage/stores.js';
import { ssoPlugin } from './sso/plugin.js';
import { answerOnlyDurable } from './query-scope.js';
import { OPENAPI_PATH, restApi } from './rest/openapi.js';
import { SCIM_PREFIX, scimPlugin, type RegionRouting } from './scim/plugin.js';

export interface AppDeps {
  readonly database: RosterDatabase;
  /** The app's stores over `database` (src/storage/stores.ts when not given). */
  readonly stores?: Stores;
  /**
   * Origin of the tenant URLs; a function when only known after listen (tests on port 0)
   * or when it depends on the account's region.
   */
  readonly publicUrl: string | ((region?: string) => string);
  /** REGIONS: SCIM requests reaching an account through another region's host are refused. */
  readonly regions?: RegionRouting;
  readonly log: ProvisioningLog;
  /** Largest request body accepted, in bytes (413 beyond). */
  readonly bodyLimit?: number;
  /** A pino logger; none means silent (tests). */
  readonly logger?: FastifyBaseLogger;
  /** Per-token rate limiter for SCIM (src/http/limits); none: unlimited. */
  readonly rateLimiter?: RateLimiter;
  /** Slow-client timeouts; defaults in src/http/limits/config.ts. */
  readonly timeouts?: Partial<HttpTimeouts>;
  /**
   * The webhook dispatcher of this process, if any: nudged after each successful write
   * so events go out at once rather than at the next poll, and stopped when the app
   * closes. The caller starts it (startServer does).
   */
  readonly webhooks?: WebhookDispatcher;
  /** When set, `/metrics` answers only to `Authorization: Bearer <metricsToken>`. */
  readonly metricsToken?: string;
  /** Per-request caps of the SCIM API (src/app/limits.ts); defaults when absent. */
  readonly requestLimits?: RequestLimits;
  /** Connection caps (total, per client address); defaults in src/http/limits/edges.ts. */
  readonly connections?: Partial<ConnectionLimits>;
  /** Sign-in with OpenID Connect (docs/sso.md); defaults from the environment. */
  readonly sso?: SsoSettings;
}

export interface SsoSettings {
  /** ROSTER_SSO_KEY: encrypts the providers' client secrets. */
  readonly key?: Buffer;
  /** ROSTER_SSO_ALLOW_PRIVATE=1: http issuers and private addresses (development, tests). */
  readonly allowPrivate?: boolean;
  /** After fetching a provider's keys, how long before an unknown `kid` fetches them again. */
  readonly jwksCooldownMs?: number;
  /** The clock ID tokens are checked against (tests move it). */
  readonly now?: () => Date;
}

/** ROSTER_SSO_ALLOW_PRIVATE=1: the server may talk to identity providers on private addresses over http. */
export function ssoAllowPrivateFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['ROSTER_SSO_ALLOW_PRIVATE'] === '1';
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Builds the HTTP application without listening (ARCHITECTURE convention 7):
 * tests use inject() or listen on port 0; main wires the real one.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const stores = deps.stores ?? createStores(deps.database);
  const timeouts: HttpTimeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const app = Fastify({
    ...(deps.logger !== undefined ? { loggerInstance: deps.logger } : { logger: false }),
    // Entra and Okta send paths in any case (`/users`); attribute names are case-insensitive too.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 200 },
    bodyLimit,
    // Slow or stalled clients must not hold sockets forever: the request head
    // must arrive within headersMs (slowloris), the whole request within requestMs.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    http: {
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    keepAliveTimeout: 75_000,
    return503OnClosing: true,
    // Headers over 16 KB (431), malformed requests (400), timeouts (408): answered in the
    // error format of the API the request was for, not Node's or Fastify's own.
    clientErrorHandler: handleClientError,
    // A URL that is not even valid percent-encoding ("/Users/%") never reaches a plugin:
    // answer it in the error format of the API it was meant for, not Fastify's own.
    frameworkErrors: (error, request, frameworkReply) => {
      const reply = frameworkReply as unknown as FastifyReply;
      const message = `The request URL is malformed (${error.message}); percent-encode it.`;
      if (request.url.startsWith('/api/v1/scim/')) {
        void reply
          .code(400)
          .type('application/scim+json; charset=utf-8')
          .send(errorBody(new ScimError(400, 'invalidSyntax', message)));
      } else {
        void reply.code(400).send({ error: { code: 'invalid_request', message } });
      }
    },
  });
  limitConnections(app.server, { ...DEFAULT_CONNECTION_LIMITS, ...deps.connections });
  lingerAfterEarlyAnswers(app);
  const publicUrl = (): string =>
    typeof deps.publicUrl === 'function' ? deps.publicUrl() : deps.publicUrl;
  // Every answer is data, never a page to frame or a script to sniff (security headers).
  app.addHook('onSend', async (request, reply, payload) => {
    // Rate-limited APIs (SCIM, REST): the IETF RateLimit fields, on every answer.
    const limits = rateLimitHeaders(request);
    if (limits !== undefined)
      for (const [name, value] of Object.entries(limits)) void reply.header(name, value);
    // Served over https (PUBLIC_URL): browsers must never fall back to plain http.
    if (/^https:/i.test(publicUrl()))
      void reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    void reply.header('X-Content-Type-Options', 'nosniff');
    void reply.header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    void reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });
  // SQLite, commits fsynced off the event loop: every answer waits until what it shows is durable.
  answerOnlyDurable(app, deps.database);
  // U+0000 and unpaired surrogates cannot be stored or compared in PostgreSQL (22021,
  // 22P05), and a body nested absurdly deep is no request: refused as bad input on the
  // REST and admin APIs too (the SCIM plugin answers these with SCIM errors itself).
  app.addHook('preHandler', async (request, reply) => {
    if (request.url.startsWith('/api/v1/scim/')) return;
    const reason = /%00/.test(request.url) ? 'nul' : unstorableJson(request.body);
    if (reason !== undefined) {
      return reply.code(400).send({
        error: {
          code: 'invalid_request',
          message:
            reason === 'nul'
              ? 'U+0000 is not accepted in URLs or request bodies.'
              : reason === 'surrogate'
                ? 'The request body contains an unpaired UTF-16 surrogate escape (such as \\ud800): send valid Unicode.'
                : `The request body nests deeper than ${MAX_BODY_DEPTH} levels.`,
        },
      });
    }
  });
  registerObservability(app, {
    database: deps.database,
    ...(deps.rateLimiter !== undefined ? { rateLimiter: deps.rateLimiter } : {}),
    ...(deps.metricsToken !== undefined ? { metricsToken: deps.metricsToken } : {}),
  });
  drainOnClose(app); // SIGTERM drains in-flight requests, then close() ends (src/http/limits/drain.ts)
  const webhooks = deps.webhooks;
  if (webhooks !== undefined) {
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400)
        webhooks.nudge();
    });
    app.addHook('onClose', async () => webhooks.stop());
  }
  // Each account's share of concurrent requests, one gate for the SCIM and REST APIs.
  const requestLimits = deps.requestLimits ?? DEFAULT_REQUEST_LIMITS;
  const gate = new AccountGate(requestLimits.accountConcurrency, requestLimits.accountQueueMs);
  await app.register(scimPlugin, {
    prefix: SCIM_PREFIX,
    database: deps.database,
    stores,
    publicUrl: deps.publicUrl,
    regions: deps.regions,
    bodyLimit,
    log: deps.log,
    rateLimiter: deps.rateLimiter,
    limits: requestLimits,
    gate,
  });
  // The REST API under /api/v1/accounts/{account_id}, its OpenAPI document at OPENAPI_PATH.
  await app.register(restApi, {
    database: deps.database,
    stores,
    rateLimiter: deps.rateLimiter,
    gate,
  });
  const ssoKey = deps.sso?.key ?? ssoKeyFromEnv();
  const allowPrivate = deps.sso?.allowPrivate ?? ssoAllowPrivateFromEnv();
  const oidc = new OidcClient({
    ...DEFAULT_OIDC_OPTIONS,
    allowPrivate,
    ...(deps.sso?.jwksCooldownMs !== undefined ? { jwksCooldownMs: deps.sso.jwksCooldownMs } : {}),
  });
  const regionUrl = (region?: string): string =>
    typeof deps.publicUrl === 'function' ? deps.publicUrl(region) : deps.publicUrl;
  const signIn = new SsoSignIn({
    stores,
    log: deps.log,
    key: ssoKey,
    oidc,
    originOf: async (accountId) => {
      const account = await requireAccount(stores, accountId).catch(() => undefined);
      return regionUrl(account?.region);
    },
    ...(deps.sso?.now !== undefined ? { now: deps.sso.now } : {}),
  });
  await app.register(adminPlugin, {
    prefix: ADMIN_PREFIX,
    database: deps.database,
    stores,
    publicUrl: deps.publicUrl,
    log: deps.log,
    sso: { signIn, oidc, key: ssoKey, allowPrivate },
  });
  await app.register(ssoPlugin, { signIn, publicUrl });
  await app.register(consolePlugin); // the admin console at /console/ (src/http/console)
  // Outside the three APIs too, every answer is the REST/admin JSON error format (never
  // Fastify's own), and a 404 quotes the path without its query (which may hold secrets).
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({
      error: {
        code: 'not_found',
        message: `No route at ${request.method} ${request.url.split('?')[0]}. Roster serves SCIM at /api/v1/scim/azure/{account_id}, the REST API at /api/v1/accounts/{account_id} (GET ${OPENAPI_PATH}), the admin API at ${ADMIN_PREFIX}, and /healthz.`,
      },
    }),
  );
  app.setErrorHandler(async (error: { statusCode?: number; message?: string }, request, reply) => {
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600
        ? error.statusCode
        : 500;
    if (status >= 500) request.log.error({ err: error }, 'unexpected error');
    return reply.code(status).send({
      error: {
        code: errorCode(status),
        message: status >= 500 ? 'Internal error.' : (error.message ?? 'Bad request.'),
      },
    });
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}

function errorCode(status: number): string {
  if (status === 404) return 'not_found';
  if (status === 405) return 'method_not_allowed';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  return status >= 500 ? 'internal' : 'invalid_request';
}
