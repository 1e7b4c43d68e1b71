import Fastify, { type RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH, restApi } from '../../src/http/rest/openapi.js';
import { REST_PREFIX } from '../../src/http/rest/plugin.js';
import { REST_ROUTE_SCHEMAS } from '../../src/http/rest/schemas.js';
import { restValidatorCompiler } from '../../src/http/rest/validation.js';
import type { Stores } from '../../src/app/stores.js';
import type { RosterDatabase } from '../../src/storage/connect.js';

/** The routes are declared, never called: a database that must not be touched. */
const database = {
  db: new Proxy({}, { get: () => expect.unreachable('the database is not used') }),
  dialect: 'sqlite',
} as unknown as RosterDatabase;
const stores = new Proxy(
  {},
  {
    get: () => expect.unreachable('the stores are not used'),
  },
) as unknown as Stores;

interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string; required: boolean }[];
  responses: Record<string, unknown>;
}

describe('REST API route schemas and OpenAPI document', () => {
  it('gives every REST route a schema, and every route is in the document', async () => {
    const app = Fastify({ logger: false });
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith(REST_PREFIX) && route.method !== 'HEAD') routes.push(route);
    });
    await app.register(restApi, { database, stores });
    await app.ready();
    const doc = (await app.inject({ method: 'GET', url: OPENAPI_PATH })).json() as {
      paths: Record<string, Record<string, Operation>>;
    };
    await app.close();

    expect(routes.length).toBe(Object.keys(REST_ROUTE_SCHEMAS).length);
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const declared = routes.map(
      (route) => `${String(route.method)} ${route.url.replace(/:(\w+)/g, '{$1}')}`,
    );
    expect(documented.sort()).toEqual(declared.sort());
    for (const route of routes) {
      const where = `${String(route.method)} ${route.url}`;
      const schema = route.schema as Record<string, Record<string, unknown> | undefined>;
      expect(schema['params'], where).toBeDefined();
      expect(schema['response']?.['200'], where).toBeDefined();
      expect(schema['response']?.['400'], where).toBeDefined();
      const operation = doc.paths[route.url.replace(/:(\w+)/g, '{$1}')]?.['get'];
      expect(operation?.operationId, where).toBe(schema['operationId']);
      // Every path parameter of the URL is described (required), and so is every query
      // parameter the route's schema declares.
      const pathParameters = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
      expect(
        operation?.parameters
          ?.filter((p) => p.in === 'path' && p.required)
          .map((p) => p.name)
          .sort(),
        where,
      ).toEqual(pathParameters);
      const query = schema['querystring']?.['properties'] as Record<string, unknown> | undefined;
      expect(
        operation?.parameters
          ?.filter((p) => p.in === 'query')
          .map((p) => p.name)
          .sort(),
        where,
      ).toEqual(Object.keys(query ?? {}).sort());
    }
  });

  it('refuses at startup a REST route declared without a schema', async () => {
    const app = Fastify({ logger: false });
    const start = async () => {
      await app.register(async (scope) => {
        await restApi(scope, { database, stores });
        scope.get(`${REST_PREFIX}/unschemed`, async () => ({}));
      });
      await app.ready();
    };
    await expect(start()).rejects.toThrow(
      'REST route GET /api/v1/accounts/:accountId/unschemed has no schema',
    );
    await app.close();
  });

  describe('parameter validation from the route schemas', () => {
    const validate = (schema: Record<string, unknown>) =>
      restValidatorCompiler({
        schema,
        method: 'GET',
        url: '/test',
        httpPart: 'querystring',
      }) as (data: unknown) => true | { error: Error & { statusCode?: number } };
    const users = validate(REST_ROUTE_SCHEMAS.listUsers.querystring);
    const events = validate(REST_ROUTE_SCHEMAS.listEvents.querystring);
    const refusal = (result: ReturnType<typeof users>) =>
      result === true
        ? undefined
        : { status: result.error.statusCode, message: result.error.message };

    it('accepts values as the API reads them', () => {
      expect(users({})).toBe(true);
      expect(users({ limit: '200', offset: '0', active: 'FALSE', cursor: 'WyJhIl0' })).toBe(true);
      // first of a repeated parameter; an empty value is absent
      expect(users({ limit: ['5', 'abc'], active: '' })).toBe(true);
      expect(events({ after: '9007199254740991', limit: '1000' })).toBe(true);
    });

    it('refuses values outside the schema with a 400 naming parameter, range and value', () => {
      expect(refusal(users({ limit: '201' }))).toEqual({
        status: 400,
        message: 'limit must be an integer from 1 to 200, got "201"',
      });
      expect(refusal(users({ limit: ['abc', '5'] }))?.message).toBe(
        'limit must be an integer from 1 to 200, got "abc"',
      );
      expect(refusal(users({ offset: '1.5' }))?.message).toBe(
        'offset must be an integer from 0 to 9007199254740991, got "1.5"',
      );
      expect(refusal(users({ active: 'yes' }))?.message).toBe(
        'active must be true or false, got "yes"',
      );
      expect(refusal(events({ limit: '1001' }))?.message).toBe(
        'limit must be an integer from 1 to 1000, got "1001"',
      );
      expect(refusal(events({ after: '99999999999999999' }))?.status).toBe(400);
    });

    it('refuses at startup a schema keyword it would not enforce', () => {
      expect(() =>
        validate({ type: 'object', properties: { q: { type: 'string', pattern: '^a' } } }),
      ).toThrow(/"pattern" is not supported/);
      expect(() => validate({ type: 'object', properties: { q: { type: 'number' } } })).toThrow(
        /a string, an integer or a boolean/,
      );
    });
  });
});
