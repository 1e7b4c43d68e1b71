import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { signIn } from '../../src/app/sessions.js';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { issueToken } from '../../src/app/tokens.js';
import { loadConfig, regionOrigin } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

const EU = 'https://app.example.com';
const US = 'https://app.us.example.com';
const SCIM = 'application/scim+json';

/** REGIONS: one deployment, several data-center hosts; each account served at its region's. */
describe('data-center regions', () => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let log: ProvisioningLog;
  let app: FastifyInstance;
  let proxied: FastifyInstance;
  let us: { id: string; token: string };

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    log = new ProvisioningLog(createStores(database), (error) => {
      throw error;
    });
    const build = (trustProxy: boolean) => {
      const config = loadConfig({
        REGIONS: `eu=${EU},us=${US}`,
        ...(trustProxy ? { TRUST_PROXY: '1' } : {}),
      });
      return buildApp({
        database,
        log,
        publicUrl: (region?: string) => regionOrigin(config.regions, region),
        regions: { config: config.regions, trustProxy: config.trustProxy },
      });
    };
    app = await build(false);
    proxied = await build(true);
    const account = await createAccount(createStores(database), { name: 'US Co', region: 'us' });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'it@us.example',
      password: 'granite willow comet bay',
    });
    const token = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra',
    });
    us = { id: account.id, token: token.token };
  });
  afterAll(async () => {
    await app?.close();
    await proxied?.close();
    await log?.close();
    await database?.close();
    await testDb?.dispose();
  });

  const request = (
    target: FastifyInstance,
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    payload?: unknown,
  ) =>
    target.inject({
      method,
      url: `/api/v1/scim/azure/${us.id}${path}`,
      headers: { authorization: `Bearer ${us.token}`, 'content-type': SCIM, ...headers },
      ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
    });

  it("uses the account's region origin in meta.location, Location and $ref", async () => {
    const host = { host: 'app.us.example.com' };
    const boss = await request(app, 'POST', '/Users', host, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'boss@us.example',
    });
    expect(boss.statusCode).toBe(201);
    const bossId = boss.json<{ id: string }>().id;
    expect(boss.headers.location).toBe(`${US}/api/v1/scim/azure/${us.id}/Users/${bossId}`);
    const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    const report = await request(app, 'POST', '/Users', host, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
      userName: 'report@us.example',
      [ENTERPRISE]: { manager: { value: bossId } },
    });
    const body = report.json<Record<string, { location?: string; manager?: { $ref: string } }>>();
    expect(body['meta']!.location).toMatch(new RegExp(`^${US}/api/v1/scim/azure/${us.id}/Users/`));
    expect(body[ENTERPRISE]!.manager!.$ref).toBe(
      `${US}/api/v1/scim/azure/${us.id}/Users/${bossId}`,
    );
    // A host that is no region's (the server's own address, a health check) is served too.
    const direct = await request(app, 'GET', '/Users?count=1', { host: '127.0.0.1:8080' });
    expect(direct.statusCode).toBe(200);
  });

  it("answers a request through another region's host with 421 naming the right tenant URL", async () => {
    const wrong = await request(app, 'GET', '/Users?filter=userName+eq+%22x%22', {
      host: 'app.example.com',
    });
    expect(wrong.statusCode).toBe(421);
    expect(wrong.headers['content-type']).toContain('application/scim+json');
    const error = wrong.json<{ schemas: string[]; status: string; detail: string }>();
    expect(error.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect(error.status).toBe('421');
    expect(error.detail).toBe(
      `This account is in the us region, not eu: its tenant URL is ${US}/api/v1/scim/azure/${us.id}. Use that URL in the identity provider.`,
    );
    // Without a valid token nothing about the account is told.
    const anonymous = await app.inject({
      method: 'GET',
      url: `/api/v1/scim/azure/${us.id}/Users`,
      headers: { host: 'app.example.com' },
    });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).not.toContain(US);
  });

  it('reads X-Forwarded-Host only with TRUST_PROXY', async () => {
    const viaProxy = { host: '10.0.0.5:8080', 'x-forwarded-host': 'app.example.com' };
    expect((await request(proxied, 'GET', '/Users?count=1', viaProxy)).statusCode).toBe(421);
    expect((await request(app, 'GET', '/Users?count=1', viaProxy)).statusCode).toBe(200);
    const right = { host: '10.0.0.5:8080', 'x-forwarded-host': 'app.us.example.com' };
    expect((await request(proxied, 'GET', '/ServiceProviderConfig', right)).statusCode).toBe(200);
  });

  it("gives the admin API the account's regional tenant URL", async () => {
    const session = await signIn(createStores(database), {
      accountId: us.id,
      email: 'it@us.example',
      password: 'granite willow comet bay',
    });
    const response = await app.inject({
      method: 'GET',
      url: `/api/v1/admin/accounts/${us.id}`,
      headers: { authorization: `Bearer ${session!.token}` },
    });
    expect(response.json<{ tenantUrl: string }>().tenantUrl).toBe(
      `${US}/api/v1/scim/azure/${us.id}`,
    );
  });
});
