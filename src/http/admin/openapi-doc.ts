import Fastify from 'fastify';
import type { ProvisioningLog } from '../../app/provisioning-log.js';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import { ADMIN_OPENAPI_PATH } from './openapi.js';
import { ADMIN_PREFIX, adminPlugin } from './plugin.js';
import type { SsoRuntime } from './sso-routes.js';

/**
 * The admin API's OpenAPI document without a database or a listening server: the
 * routes are declared (never called) and @fastify/swagger describes them. Used by the
 * build to generate the console's typed client (scripts/build-console.mjs).
 */
export async function adminOpenApiDocument(): Promise<unknown> {
  const app = Fastify({ logger: false });
  const unused = new Proxy({} as object, {
    get() {
      throw new Error('the OpenAPI document is built without a database');
    },
  });
  await app.register(adminPlugin, {
    prefix: ADMIN_PREFIX,
    database: { db: unused, dialect: 'sqlite' } as unknown as RosterDatabase,
    stores: unused as Stores,
    publicUrl: 'http://localhost',
    log: unused as ProvisioningLog,
    sso: unused as SsoRuntime,
  });
  await app.ready();
  const response = await app.inject({ method: 'GET', url: `${ADMIN_PREFIX}${ADMIN_OPENAPI_PATH}` });
  await app.close();
  return response.json();
}
