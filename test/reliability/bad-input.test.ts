import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/app/tokens.js';
import { WebhookDispatcher } from '../../src/app/webhooks/dispatcher.js';
import { createEndpoint, getEndpoint, listAttempts } from '../../src/app/webhooks/endpoints.js';
import { DATABASE_KINDS } from '../helpers/databases.js';
import { emitEvents } from '../helpers/webhook-receiver.js';
import {
  isScimError,
  seedTenant,
  startApp,
  type InProcessApp,
  type Tenant,
} from './helpers/app.js';
import { createStores } from '../../src/storage/stores.js';

/** Hostile input that reached PostgreSQL (or the stack) as a 500: each is a 4xx now. */
describe.each(DATABASE_KINDS)('bad input is a 4xx, never a 5xx (%s)', (kind) => {
  let server: InProcessApp;
  let tenant: Tenant;
  let apiToken: string;

  beforeAll(async () => {
    server = await startApp(kind);
    tenant = await seedTenant(server.database.db, 'Bad input');
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
    ['an 800 KB [[[...]]]', '['.repeat(400_000) + ']'.repeat(400_000)],
    ['an unbalanced 800 KB [[[...', '['.repeat(800_000)],
    ['a deep object', '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000)],
  ])('POST /api/v1/admin/sessions with %s answers 400', async (_name, payload) => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/v1/admin/sessions',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: expect.any(String) } });
  });

  it('POST /api/v1/admin/sessions with an unpaired surrogate answers 400', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/v1/admin/sessions',
      headers: { 'content-type': 'application/json' },
      payload: `{"accountId":"${tenant.accountId}","email":"a\\ud800@b.c","password":"x"}`,
    });
    expect(response.statusCode, response.body).toBe(400);
  });

  it('a REST cursor that decodes to U+0000 answers 400', async () => {
    for (const length of [1, 2, 3, 4]) {
      for (const path of ['users', 'teams']) {
        const cursor = Buffer.from(
          JSON.stringify(Array.from({ length }, () => 'a\u0000')),
          'utf8',
        ).toString('base64url');
        const response = await server.app.inject({
          method: 'GET',
          url: `/api/v1/accounts/${tenant.accountId}/${path}?cursor=${cursor}`,
          headers: { authorization: `Bearer ${apiToken}` },
        });
        expect(response.statusCode, `${path} ${length}: ${response.body}`).toBe(400);
      }
    }
  });

  it.each([
    [
      'POST',
      '/Users',
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\\ud800"}',
    ],
    [
      'POST',
      '/Users',
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b","name":{"givenName":"\\udc00x"}}',
    ],
    [
      'POST',
      '/Groups',
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"\\ud800"}',
    ],
    [
      'POST',
      '/.search',
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \\"\\ud800\\""}',
    ],
  ])('SCIM %s %s with an unpaired surrogate answers a SCIM 400', async (method, path, payload) => {
    const response = await server.app.inject({
      method: method as 'POST',
      url: `${tenant.prefix}${path}`,
      headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/scim+json' },
      payload,
    });
    expect(response.statusCode, response.body).toBe(400);
    expect(isScimError(response.json(), 400)).toBe(true);
  });

  it.each([
    '/Users?filter=userName%20eq%20%22%5Cud800%22',
    '/Users?filter=userName%20eq%20%22%ED%A0%80%22',
    '/Users?filter=userName%20sw%20%22%C0%80%22',
    '/Users/%ED%A0%80',
    '/Users?attributes=%ED%A0%80',
    '/Groups?filter=displayName%20co%20%22%5Cudc00%22',
  ])('SCIM GET %s answers 2xx or a SCIM 4xx', async (path) => {
    const response = await server.app.inject({
      method: 'GET',
      url: `${tenant.prefix}${path}`,
      headers: { authorization: `Bearer ${tenant.token}` },
    });
    expect(response.statusCode, response.body).toBeLessThan(500);
    if (response.statusCode >= 400)
      expect(isScimError(response.json(), response.statusCode)).toBe(true);
  });

  it.each(['/users?q=%ED%A0%80', '/users/%ED%A0%80', '/teams?q=%5Cud800'])(
    'REST GET %s answers 2xx or 4xx',
    async (path) => {
      const response = await server.app.inject({
        method: 'GET',
        url: `/api/v1/accounts/${tenant.accountId}${path}`,
        headers: { authorization: `Bearer ${apiToken}` },
      });
      expect(response.statusCode, response.body).toBeLessThan(500);
    },
  );

  it('a paired surrogate (an emoji escaped as \\ud83d\\ude00) is still accepted', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: `${tenant.prefix}/Users`,
      headers: { authorization: `Bearer ${tenant.token}`, 'content-type': 'application/scim+json' },
      payload:
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"smile\\ud83d\\ude00@example.com"}',
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().userName).toBe('smile\u{1F600}@example.com');
  });

  it('a webhook receiver whose reason phrase holds NUL and a banner is logged by status code only', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const raw: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => {
        socket.end(
          'HTTP/1.1 418 Internal-Secret\u0000Banner v1.2.3\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret',
        );
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const port = (raw.address() as AddressInfo).port;
      const endpoint = await createEndpoint(
        createStores(server.database).forAccount(tenant.accountId),
        { url: `http://127.0.0.1:${port}/hook` },
      );
      await emitEvents(server.database, tenant.accountId, 1);
      const dispatcher = new WebhookDispatcher({
        stores: createStores(server.database),
        allowPrivateNetworks: true,
      });
      expect(await dispatcher.deliverNext()).toBe(true);
      const attempts = await listAttempts(
        createStores(server.database).forAccount(tenant.accountId),
        endpoint.id,
      );
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatchObject({ status: 418, ok: false });
      expect(attempts[0]?.error).not.toMatch(/Banner|Secret|secret/);
      expect(attempts[0]?.error).not.toContain('\u0000');
      const after = await getEndpoint(
        createStores(server.database).forAccount(tenant.accountId),
        endpoint.id,
      );
      expect(after.failures).toBe(1);
      expect(after.lastError).toBe(attempts[0]?.error);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => raw.close(resolve));
    }
  });
});
