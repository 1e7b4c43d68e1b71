import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/app/log-text.js';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/server.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { seedTenant, type Tenant } from './helpers/app.js';

describe('redactUrl', () => {
  it.each([
    ['/Users', '/Users'],
    [
      '/Users?filter=userName%20eq%20%22a%22&count=5',
      '/Users?filter=userName%20eq%20%22a%22&count=5',
    ],
    ['/x?access_token=rst_1', '/x?access_token=[redacted]'],
    ['/x?a=1&token=t&b=2', '/x?a=1&token=[redacted]&b=2'],
    ['/x?PASSWORD=p', '/x?PASSWORD=[redacted]'],
    [
      '/x?client_secret=s&code=c&api-key=k',
      '/x?client_secret=[redacted]&code=[redacted]&api-key=[redacted]',
    ],
    [
      '/x?refresh_token=r&id_token=i&sessionToken=s',
      '/x?refresh_token=[redacted]&id_token=[redacted]&sessionToken=[redacted]',
    ],
    ['/x?access%5Ftoken=rst_2', '/x?access%5Ftoken=[redacted]'],
  ])('%s -> %s', (url, expected) => expect(redactUrl(url)).toBe(expected));
});

/** A credential sent in a URL must not reach the server log in clear. */
describe('request logs redact secrets in URLs', () => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let app: FastifyInstance;
  let tenant: Tenant;
  let out = '';

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    tenant = await seedTenant(database.db, 'Logged');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    app = await buildApp({
      database,
      publicUrl: 'http://127.0.0.1',
      log: new ProvisioningLog(createStores(database), () => undefined),
      logger: createLogger('info', sink),
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
    await testDb?.dispose();
  });

  it.each([
    '/api/v1/scim/azure/{account}/Users?access_token=rst_SECRET1&count=1',
    '/api/v1/accounts/{account}/users?token=SECRET2',
    '/api/v1/admin/sessions?password=SECRET3',
    '/nowhere?client_secret=SECRET4',
    '/healthz?code=SECRET5',
  ])('GET %s', async (path) => {
    out = '';
    const response = await app.inject({
      method: 'GET',
      url: path.replace('{account}', tenant.accountId),
      headers: { authorization: `Bearer ${tenant.token}` },
    });
    expect(response.statusCode).toBeLessThan(500);
    expect(out).toContain('incoming request');
    expect(out).not.toMatch(/SECRET\d/);
    expect(out).toContain('[redacted]');
  });

  it('answers routes outside the three APIs in the JSON error format, without echoing the query', async () => {
    for (const [method, url] of [
      ['GET', '/nowhere?password=SECRET6'],
      ['DELETE', '/healthz'],
      ['POST', '/api/v2/anything'],
    ] as const) {
      const response = await app.inject({ method, url });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = response.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('not_found');
      expect(body.error.message).toContain(url.split('?')[0]);
      expect(response.body).not.toContain('SECRET6');
      expect(Object.keys(body)).toEqual(['error']);
    }
  });
});
