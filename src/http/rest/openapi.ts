import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Stores } from '../../app/stores.js';
import type { RosterDatabase } from '../../storage/connect.js';
import { REST_PREFIX, restPlugin, type RestPluginOptions } from './plugin.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { restValidatorCompiler } from './validation.js';

/** Where the OpenAPI document of the product REST API is served (`roster openapi` prints it). */
export const OPENAPI_PATH = '/api/v1/openapi.json';

/**
 * The product REST API with its OpenAPI 3.1 document, which @fastify/swagger generates
 * from the routes' own schemas (./schemas.ts). Register without a prefix: the routes go
 * under REST_PREFIX, the document at OPENAPI_PATH. This scope has its own swagger
 * instance (the admin API has another), its own validator (route schemas validate
 * parameters, ./validation.ts) and answers serialised as they are (response schemas
 * document, nothing is stripped). A REST route declared without a schema is refused at
 * startup, so every route is in the document.
 */
export async function restApi(app: FastifyInstance, options: RestPluginOptions): Promise<void> {
  app.setValidatorCompiler(restValidatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(REST_PREFIX) && route.schema?.response === undefined)
      throw new Error(
        `REST route ${String(route.method)} ${route.url} has no schema: declare its params, querystring and responses (src/http/rest/schemas.ts)`,
      );
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Roster product API',
        version: '1.0.0',
        description:
          "Read-only access to an account's directory (users, teams, members, the org chart, seat use) and its event log, for the workspace product built on Roster. Authenticate with an API token of the account (`roster token issue --type api`). Events are also pushed by signed webhooks: see docs/events.md.",
      },
      servers: [{ url: '/' }],
      security: [{ apiToken: [] }],
      tags: [
        { name: 'directory', description: 'Users, teams and their links.' },
        { name: 'events', description: 'The per-account event log.' },
      ],
      components: {
        securitySchemes: {
          apiToken: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API-type token of the account (`rst_...`). SCIM tokens are refused here, and API tokens on SCIM.',
          },
        },
      },
    },
    // Shared schemas are components under their own $id (User, Team, ...), not def-N.
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  });
  await app.register(restPlugin, { ...options, prefix: REST_PREFIX });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}

/**
 * The REST API's OpenAPI document without a database or a listening server: the routes
 * are declared (never called) and @fastify/swagger describes them. `roster openapi`
 * prints it; docs/openapi.json is its output.
 */
export async function restOpenApiDocument(): Promise<unknown> {
  const app = Fastify({ logger: false });
  const unused = new Proxy({} as object, {
    get() {
      throw new Error('the OpenAPI document is built without a database');
    },
  });
  await app.register(restApi, {
    database: { db: unused, dialect: 'sqlite' } as unknown as RosterDatabase,
    stores: unused as Stores,
  });
  await app.ready();
  const response = await app.inject({ method: 'GET', url: OPENAPI_PATH });
  await app.close();
  return response.json();
}
