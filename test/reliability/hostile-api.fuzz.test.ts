import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from '../../src/app/sessions.js';
import { issueToken } from '../../src/app/tokens.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { envInt, seedTenant, startApp, type InProcessApp, type Tenant } from './helpers/app.js';

/**
 * Hostile input on the product REST API and the admin API: generated path
 * segments, query strings and JSON bodies, authenticated, through the whole HTTP
 * stack. Never a 5xx, a JSON error on every 4xx, and a refused write changes nothing.
 * ROSTER_FUZZ_RUNS scales it like the SCIM fuzzing.
 */
const RUNS = Math.max(50, Math.floor(envInt('ROSTER_FUZZ_RUNS', 300) / 2));

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '..',
    '%',
    '%00',
    '%ZZ',
    '__proto__',
    'constructor',
    '-1',
    '1e400',
    'null',
    "'; drop table users; --",
  ),
);
const enc = (s: string): string =>
  encodeURIComponent(
    s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'),
  );
const raw = (s: string): string =>
  Math.random() < 0.5 ? enc(s) : s.replace(/[\s#?/\\]/g, '').slice(0, 40);

describe.each(DATABASE_KINDS)('hostile input on the REST and admin APIs (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  let apiToken: string;
  let session: string;

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db, 'Fuzzed');
    apiToken = (
      await issueToken(server.stores, {
        accountId: tenant.accountId,
        type: 'api',
        name: 'api',
      })
    ).token;
    const admin = await server.database.db
      .selectFrom('admins')
      .select('email')
      .where('account_id', '=', tenant.accountId)
      .executeTakeFirstOrThrow();
    session = (await signIn(server.stores, {
      accountId: tenant.accountId,
      email: admin.email,
      password: 'correct horse battery',
    }))!.token;
  });
  afterAll(async () => server?.close());

  async function expectSafe(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    authorization: string,
    body?: string,
  ) {
    const before = method === 'GET' ? undefined : await server.dump();
    const response = await server.app.inject({
      method,
      url,
      headers: {
        authorization,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: body } : {}),
    });
    const where = `${method} ${url} ${body ?? ''}`;
    expect(response.statusCode, `${where} → ${response.body}`).toBeLessThan(500);
    if (response.statusCode >= 400) {
      const parsed = JSON.parse(response.body) as { error?: { code?: unknown; message?: unknown } };
      expect(typeof parsed.error?.code, where).toBe('string');
      expect(typeof parsed.error?.message, where).toBe('string');
      if (before !== undefined)
        expect(await server.dump(), `${where} changed the database`).toBe(before);
    }
  }

  it('REST API: generated ids, cursors and query parameters', { timeout: 600_000 }, async () => {
    const routes = [
      'users',
      'users/{x}',
      'teams',
      'teams/{x}',
      'teams/{x}/members',
      'org-chart',
      'seats',
      'events',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        text,
        fc.dictionary(
          fc.constantFrom('limit', 'cursor', 'offset', 'active', 'after', 'includeInactive', 'x'),
          text,
          { maxKeys: 3 },
        ),
        async (route, id, query) => {
          const qs = Object.entries(query)
            .map(([k, v]) => `${k}=${raw(v)}`)
            .join('&');
          const path = `/api/v1/accounts/${tenant.accountId}/${route.replace('{x}', raw(id) || 'x')}${qs ? `?${qs}` : ''}`;
          await expectSafe('GET', path, `Bearer ${apiToken}`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(
    'admin API: generated bodies and ids for every writing route',
    { timeout: 600_000 },
    async () => {
      const json = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .record(
            {
              seats: fc.oneof(fc.integer(), fc.double(), text, fc.constant(null)),
              settings: fc.oneof(
                fc.dictionary(
                  fc.constantFrom('departmentTeams', 'managerTeams', '__proto__'),
                  fc.jsonValue({ maxDepth: 1 }),
                ),
                text,
              ),
              type: fc.oneof(fc.constantFrom('scim', 'api'), text),
              name: text,
              url: fc.oneof(fc.webUrl(), text),
              description: text,
            },
            { requiredKeys: [] },
          )
          .map((v) => JSON.stringify(v)),
        text,
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(
            'PATCH ',
            'POST tokens',
            'DELETE tokens/{x}',
            'POST webhooks',
            'DELETE webhooks/{x}',
            'GET webhooks/{x}/deliveries',
            'GET provisioning-log',
            'POST admins/{x}/deactivate',
          ),
          text,
          json,
          fc.dictionary(fc.constantFrom('limit', 'before'), text, { maxKeys: 2 }),
          async (route, id, body, query) => {
            const [method, rest] = route.split(' ') as [
              'GET' | 'POST' | 'PATCH' | 'DELETE',
              string,
            ];
            const qs = Object.entries(query)
              .map(([k, v]) => `${k}=${raw(v)}`)
              .join('&');
            const path = `/api/v1/admin/accounts/${tenant.accountId}/${rest.replace('{x}', raw(id) || 'x')}${qs ? `?${qs}` : ''}`;
            await expectSafe(
              method,
              path,
              `Bearer ${session}`,
              method === 'POST' || method === 'PATCH' ? body : undefined,
            );
          },
        ),
        { numRuns: RUNS },
      );
    },
  );
});
