import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { ProvisioningLog } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { buildApp } from '../../src/http/app.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

describe('console cookie behind an https PUBLIC_URL', () => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let log: ProvisioningLog;
  let app: FastifyInstance;

  beforeAll(async () => {
    testDb = await createTestDatabase('sqlite');
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    log = new ProvisioningLog(createStores(database), (error) => {
      throw error;
    });
    app = await buildApp({ database, publicUrl: 'https://roster.example', log });
    const account = await createAccount(createStores(database), { name: 'Acme' });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'it@acme.example',
      password: 'correct horse battery',
    });
  });
  afterAll(async () => {
    await app.close();
    await log.close();
    await database.close();
    await testDb.dispose();
  });

  it('marks the session cookie Secure, and accepts changes from the public origin only', async () => {
    const signIn = (origin: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/admin/console/session',
        headers: { origin, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' },
        payload: { email: 'it@acme.example', password: 'correct horse battery' },
      });
    const ok = await signIn('https://roster.example');
    expect(ok.statusCode).toBe(201);
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toContain('; Secure');
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect((await signIn('https://evil.example')).statusCode).toBe(403);
  });
});
