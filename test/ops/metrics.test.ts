import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { createEndpoint } from '../../src/app/webhooks/endpoints.js';
import { buildApp } from '../../src/http/app.js';
import { MemoryRateLimiter } from '../../src/http/limits/rate-limit.js';
import { openDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { issueToken } from '../../src/app/tokens.js';
import { createTestDatabase, DATABASE_KINDS } from '../helpers/databases.js';
import { startTestServer, type TestServer, type TestTenant } from '../helpers/server.js';

/** One sample's value from Prometheus' text format, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([a-z_]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const got = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(match[3]);
  }
  return undefined;
}

const user = (userName: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName,
  active: true,
});

describe.each(DATABASE_KINDS)('/metrics and /readyz on %s', (kind) => {
  let server: TestServer;
  let tenant: TestTenant;

  beforeAll(async () => {
    server = await startTestServer(kind);
    tenant = await server.createTenant();
  });
  afterAll(async () => server?.close());

  const scim = (path: string, init: RequestInit & { agent?: string } = {}) =>
    fetch(`${tenant.baseUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        'content-type': 'application/scim+json',
        'user-agent': init.agent ?? 'curl/8',
      },
    });

  it('counts requests by surface, route pattern, status and identity provider', async () => {
    expect(
      (
        await scim('/Users', {
          method: 'POST',
          body: JSON.stringify(user('okta.one@example.com')),
          agent: 'Okta SCIM Client 1.0.0',
        })
      ).status,
    ).toBe(201);
    const created = await scim('/Users', {
      method: 'POST',
      body: JSON.stringify(user('entra.one@example.com')),
      agent: 'Microsoft Azure AD SCIM Client',
    });
    const { id } = (await created.json()) as { id: string };
    expect((await scim(`/Users/${id}`, { agent: 'Microsoft Azure AD SCIM Client' })).status).toBe(
      200,
    );
    expect((await scim('/Users/00000000-0000-0000-0000-000000000000')).status).toBe(404);

    const response = await fetch(`${server.origin}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const route = '/api/v1/scim/azure/:accountId/Users';
    expect(
      sample(text, 'roster_http_requests_total', {
        surface: 'scim',
        method: 'POST',
        status: '201',
        idp: 'okta',
      }),
    ).toBe(1);
    expect(
      sample(text, 'roster_http_requests_total', {
        surface: 'scim',
        method: 'POST',
        status: '201',
        idp: 'entra',
      }),
    ).toBe(1);
    // The route label is the pattern, never the id: one series for every user read.
    const reads = text
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('roster_http_requests_total{') &&
          l.includes('method="GET"') &&
          l.includes('surface="scim"'),
      );
    expect(reads.some((l) => l.includes(id))).toBe(false);
    expect(
      sample(text, 'roster_http_requests_total', {
        surface: 'scim',
        method: 'GET',
        status: '404',
        idp: 'other',
      }),
    ).toBe(1);
    expect(text).toContain(`route="${route}"`);
    expect(
      sample(text, 'roster_http_request_duration_seconds_count', {
        surface: 'scim',
        method: 'POST',
      }),
    ).toBe(2);
    if (kind === 'postgres') {
      expect(sample(text, 'roster_db_pool_connections', { state: 'max' })).toBe(10);
      expect(sample(text, 'roster_db_pool_waiting_requests', {})).toBe(0);
    } else {
      expect(text).not.toContain('roster_db_pool_connections{');
    }
  });

  it('shows an account whose webhook endpoint has undelivered events, with their age', async () => {
    // No dispatcher runs in this test server: what the account changes stays undelivered.
    await createEndpoint(createStores(server.database).forAccount(tenant.accountId), {
      url: 'https://hooks.example.com/roster',
    });
    for (const name of ['a', 'b', 'c'])
      expect(
        (
          await scim('/Users', {
            method: 'POST',
            body: JSON.stringify(user(`${name}.backlog@example.com`)),
          })
        ).status,
      ).toBe(201);
    const text = await (await fetch(`${server.origin}/metrics`)).text();
    expect(sample(text, 'roster_webhook_backlog_events', { account: tenant.accountId })).toBe(3);
    expect(
      sample(text, 'roster_webhook_delivery_lag_seconds', { account: tenant.accountId }),
    ).toBeGreaterThanOrEqual(0);
    const other = await server.createTenant();
    expect(text).not.toContain(other.accountId);
  });

  it('is ready while the database answers, and says which check failed when it does not', async () => {
    const ok = await fetch(`${server.origin}/readyz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ready', checks: { database: 'ok' } });
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });
});

describe('/readyz with the database down', () => {
  it.each(DATABASE_KINDS)('answers 503 on %s, naming the database', async (kind) => {
    const testDb = await createTestDatabase(kind);
    const database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    const log = new ProvisioningLog(createStores(database), () => undefined);
    const app = await buildApp({ database, publicUrl: 'http://127.0.0.1', log });
    try {
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
      if (kind === 'postgres') {
        // The server goes away under the pool: the database is dropped with its connections.
        await testDb.dispose();
      } else {
        await database.close(); // the one connection is gone
      }
      const down = await app.inject({ url: '/readyz' });
      expect(down.statusCode).toBe(503);
      const body = down.json() as { status: string; checks: { database: string } };
      expect(body.status).toBe('not ready');
      expect(body.checks.database).toMatch(/^failed: /);
    } finally {
      await app.close();
      await log.close().catch(() => undefined);
      if (kind === 'postgres') await database.close().catch(() => undefined);
      else await testDb.dispose();
    }
  });
});

describe('rate-limit refusals', () => {
  it('are counted apart from other failures', async () => {
    const testDb = await createTestDatabase('sqlite');
    const database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    const log = new ProvisioningLog(createStores(database), () => undefined);
    const app = await buildApp({
      database,
      publicUrl: 'http://127.0.0.1',
      log,
      rateLimiter: new MemoryRateLimiter({ perSecond: 0.001, burst: 2 }),
    });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const account = await createAccount(createStores(database), { name: 'Limited' });
      await createAdmin(createStores(database), {
        accountId: account.id,
        email: 'a@limited.example',
        password: 'correct horse battery',
      });
      const token = await issueToken(createStores(database), {
        accountId: account.id,
        type: 'scim',
        name: 'okta',
      });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await fetch(`${origin}/api/v1/scim/azure/${account.id}/Users`, {
          headers: {
            authorization: `Bearer ${token.token}`,
            'user-agent': 'Okta SCIM Client 1.0.0',
          },
        });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      const text = await (await fetch(`${origin}/metrics`)).text();
      expect(
        sample(text, 'roster_rate_limit_refusals_total', { surface: 'scim', idp: 'okta' }),
      ).toBe(2);
    } finally {
      await app.close();
      await log.close();
      await database.close();
      await testDb.dispose();
    }
  });
});

describe('METRICS_TOKEN', () => {
  it('keeps /metrics to scrapers that send it, and leaves /readyz open', async () => {
    const testDb = await createTestDatabase('sqlite');
    const database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    const log = new ProvisioningLog(createStores(database), () => undefined);
    const app = await buildApp({
      database,
      publicUrl: 'http://127.0.0.1',
      log,
      metricsToken: 's3cret-scrape',
    });
    try {
      const anonymous = await app.inject({ url: '/metrics' });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
      expect(
        (await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } }))
          .statusCode,
      ).toBe(401);
      const scraped = await app.inject({
        url: '/metrics',
        headers: { authorization: 'Bearer s3cret-scrape' },
      });
      expect(scraped.statusCode).toBe(200);
      expect(scraped.body).toContain('roster_http_requests_total');
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await app.close();
      await log.close();
      await database.close();
      await testDb.dispose();
    }
  });
});
