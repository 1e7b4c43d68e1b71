import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { AccountGate } from '../app/account-gate.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../app/limits.js';
import type { ProvisioningLog } from '../app/provisioning-log.js';
import { errorBody, ScimError } from '../core/errors.js';
import type { WebhookDispatcher } from '../app/webhooks/dispatcher.js';
import type { RosterDatabase } from '../storage/connect.js';
import { DEFAULT_TIMEOUTS, type HttpTimeouts } from './limits/config.js';
import { drainOnClose } from './limits/drain.js';
import { containsNul } from './limits/guard.js';
import type { RateLimiter } from './limits/rate-limit.js';
import { ADMIN_PREFIX, adminPlugin } from './admin/plugin.js';
import { OPENAPI_PATH, openApiDocument } from './rest/openapi.js';
import { REST_PREFIX, restPlugin } from './rest/plugin.js';
import { SCIM_PREFIX, scimPlugin } from './scim/plugin.js';

export interface AppDeps {
  readonly database: RosterDatabase;
  /** Origin of the tenant URLs; a function when only known after listen (tests on port 0). */
  readonly publicUrl: string | (() => string);
  readonly log: ProvisioningLog;
  /** Largest request body accepted, in bytes (413 beyond). */
  readonly bodyLimit?: number;
  /** A pino logger; none means silent (tests). */
  readonly logger?: FastifyBaseLogger;
  /** Per-token rate limiter for SCIM (issue 5, src/http/limits); none: unlimited. */
  readonly rateLimiter?: RateLimiter;
  /** Slow-client timeouts (issue 5); defaults in src/http/limits/config.ts. */
  readonly timeouts?: Partial<HttpTimeouts>;
  /**
   * The webhook dispatcher of this process, if any: nudged after each successful write
   * so events go out at once rather than at the next poll, and stopped when the app
   * closes. The caller starts it (startServer does).
   */
  readonly webhooks?: WebhookDispatcher;
  /** Per-request caps of the SCIM API (src/app/limits.ts); defaults when absent. */
  readonly requestLimits?: RequestLimits;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Builds the HTTP application without listening (ARCHITECTURE convention 7):
 * tests use inject() or listen on port 0; main wires the real one.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const timeouts: HttpTimeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const app = Fastify({
    ...(deps.logger !== undefined ? { loggerInstance: deps.logger } : { logger: false }),
    // Entra and Okta send paths in any case (`/users`); attribute names are case-insensitive too.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 200 },
    bodyLimit,
    // Slow or stalled clients must not hold sockets forever (issue 5): the request head
    // must arrive within headersMs (slowloris), the whole request within requestMs.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    http: {
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
    },
    keepAliveTimeout: 75_000,
    return503OnClosing: true,
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
  // Every answer is data, never a page to frame or a script to sniff (issue 5: security headers).
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('X-Content-Type-Options', 'nosniff');
    void reply.header('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    void reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });
  // U+0000 cannot be stored or compared in PostgreSQL (error 22021): refused as bad input
  // on the REST and admin APIs too (the SCIM plugin answers it with a SCIM error itself).
  app.addHook('preHandler', async (request, reply) => {
    if (request.url.startsWith('/api/v1/scim/')) return;
    if (/%00/.test(request.url) || containsNul(request.body)) {
      return reply.code(400).send({
        error: {
          code: 'invalid_request',
          message: 'U+0000 is not accepted in URLs or request bodies.',
        },
      });
    }
  });
  drainOnClose(app); // issue 5: SIGTERM drains in-flight requests, then close() ends (src/http/limits/drain.ts)
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
    publicUrl: deps.publicUrl,
    bodyLimit,
    log: deps.log,
    rateLimiter: deps.rateLimiter,
    limits: requestLimits,
    gate,
  });
  await app.register(restPlugin, {
    prefix: REST_PREFIX,
    database: deps.database,
    rateLimiter: deps.rateLimiter,
    gate,
  });
  await app.register(adminPlugin, {
    prefix: ADMIN_PREFIX,
    database: deps.database,
    publicUrl: deps.publicUrl,
    log: deps.log,
  });
  app.get(OPENAPI_PATH, async () => openApiDocument);
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
