import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/app/tokens.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { seedTenant, startApp, type InProcessApp, type Tenant } from './helpers/app.js';

/** U+0000 reaches PostgreSQL as an error (22021): every API must refuse it as bad input, never 5xx. */
describe.each(DATABASE_KINDS)('U+0000 on the REST and admin APIs (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  let apiToken: string;

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db, 'Nul');
    apiToken = (
      await issueToken(server.stores, {
        accountId: tenant.accountId,
        type: 'api',
        name: 'api',
      })
    ).token;
  });
  afterAll(async () => server?.close());

  it.each([
    ['GET', '/api/v1/accounts/{account}/users/%00x', undefined],
    ['GET', '/api/v1/accounts/{account}/teams/x%00', undefined],
    ['GET', '/api/v1/accounts/{account}/users?cursor=%00', undefined],
    ['POST', '/api/v1/admin/sessions', '{"accountId":"\\u0000","email":"a@b.c","password":"x"}'],
    [
      'POST',
      '/api/v1/admin/sessions',
      '{"accountId":"{account}","email":"a\\u0000@b.c","password":"x"}',
    ],
  ])('%s %s answers 4xx', async (method, path, body) => {
    const response = await server.app.inject({
      method: method as 'GET' | 'POST',
      url: path.replaceAll('{account}', tenant.accountId),
      headers: {
        authorization: `Bearer ${apiToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: body.replaceAll('{account}', tenant.accountId) } : {}),
    });
    expect(response.statusCode, response.body).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, response.body).toBeLessThan(500);
  });
});

describe('REST API rate limit', () => {
  it('limits API tokens with the same per-token limiter as SCIM: 429 and Retry-After', async () => {
    const { MemoryRateLimiter } = await import('../../src/http/limits/rate-limit.js');
    const server = await startApp('sqlite', {
      rateLimiter: new MemoryRateLimiter({ perSecond: 0.01, burst: 3 }),
    });
    try {
      const tenant = await seedTenant(server.database.db, 'Limited');
      const token = (
        await issueToken(server.stores, {
          accountId: tenant.accountId,
          type: 'api',
          name: 'api',
        })
      ).token;
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 5; i++) {
        const response = await server.app.inject({
          method: 'GET',
          url: `/api/v1/accounts/${tenant.accountId}/seats`,
          headers: { authorization: `Bearer ${token}` },
        });
        statuses.push(response.statusCode);
        retryAfter ??= response.headers['retry-after'] as string | undefined;
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });
});
