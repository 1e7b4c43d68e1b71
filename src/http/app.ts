import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ProvisioningLog } from '../app/provisioning-log.js';
import type { RosterDatabase } from '../storage/connect.js';
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
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Builds the HTTP application without listening (ARCHITECTURE convention 7):
 * tests use inject() or listen on port 0; main wires the real one.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    ...(deps.logger !== undefined ? { loggerInstance: deps.logger } : { logger: false }),
    // Entra and Okta send paths in any case (`/users`); attribute names are case-insensitive too.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 200 },
    bodyLimit,
    // Slow or stalled clients must not hold sockets forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 75_000,
    return503OnClosing: true,
  });
  await app.register(scimPlugin, { prefix: SCIM_PREFIX, database: deps.database, publicUrl: deps.publicUrl, bodyLimit, log: deps.log });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
