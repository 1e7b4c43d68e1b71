import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { ProvisioningLog, type LogEntry } from '../../src/app/provisioning-log.js';
import { createStores } from '../../src/storage/stores.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The provisioning log is written in multi-row batches that mix every account's entries:
 * one entry the database refuses must not take the others with it, and what a client sends
 * (U+0000, unpaired surrogates, secrets in the query) is stored sanitised.
 */
describe.each(DATABASE_KINDS)('provisioning log batches (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
  });
  afterAll(async () => {
    await database?.close();
    if (kind === 'postgres') await new Promise((resolve) => setTimeout(resolve, 200));
    await testDb?.dispose();
  });

  function entry(accountId: string, overrides: Partial<LogEntry> = {}): LogEntry {
    return {
      accountId,
      at: new Date().toISOString(),
      tokenId: null,
      method: 'GET',
      path: '/Users',
      status: 200,
      resourceType: 'User',
      resourceId: null,
      durationMs: 1.5,
      change: null,
      error: null,
      ...overrides,
    };
  }

  it('stores U+0000 and unpaired surrogates sanitised, and keeps every other entry of the batch', async () => {
    const victim = await createAccount(createStores(database), { name: 'Victim' });
    const attacker = await createAccount(createStores(database), { name: 'Attacker' });
    const errors: unknown[] = [];
    const log = new ProvisioningLog(createStores(database), (error) => errors.push(error));
    for (let i = 0; i < 20; i++) log.record(entry(victim.id, { path: `/Users?n=${i}` }));
    log.record(
      entry(attacker.id, {
        method: 'POST',
        status: 400,
        error: 'The request body is not valid JSON: Unexpected token \u0000 in \ud800 body.',
        path: '/Users/\ud800x',
        change: { a: 'x\u0000y' },
      }),
    );
    await log.flush();
    expect(errors).toEqual([]);
    const victimEntries = await log.list(victim.id);
    expect(victimEntries).toHaveLength(20);
    const [stored] = await log.list(attacker.id);
    expect(stored?.error).toBe(
      'The request body is not valid JSON: Unexpected token \uFFFD in \uFFFD body.',
    );
    expect(stored?.path).toBe('/Users/\uFFFDx');
    expect(stored?.change).toEqual({ a: 'x\u0000y' });
  });

  it('drops only an entry that cannot be stored at all, and reports it', async () => {
    const victim = await createAccount(createStores(database), { name: 'Victim 2' });
    const errors: unknown[] = [];
    const log = new ProvisioningLog(createStores(database), (error) => errors.push(error));
    log.record(entry(victim.id, { path: '/Users?first' }));
    log.record(entry(victim.id, { path: '/Users?impossible', status: Number.NaN }));
    log.record(entry(victim.id, { path: '/Users?last' }));
    await log.flush();
    const paths = (await log.list(victim.id)).map((e) => e.path);
    expect(paths).toEqual(['/Users?last', '/Users?first']);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('provisioning log entry dropped');
  });

  it('the writer stores a batch all or none', async () => {
    const account = await createAccount(createStores(database), { name: 'Atomic' });
    const writer = createStores(database).provisioningLog;
    const row = (path: string, status = 200) => ({
      ...entry(account.id, { path, status }),
      change: null,
      source: 'scim' as const,
    });
    await expect(writer.insert([row('/Users?a'), row('/Users?bad', Number.NaN)])).rejects.toThrow();
    const log = new ProvisioningLog(createStores(database), () => undefined);
    expect(await log.list(account.id)).toEqual([]);
    await writer.insert([row('/Users?b'), row('/Users?c')]);
    expect((await log.list(account.id)).map((e) => e.path)).toEqual(['/Users?c', '/Users?b']);
  });

  it('redacts secret query parameters from stored paths', async () => {
    const account = await createAccount(createStores(database), { name: 'Secrets' });
    const log = new ProvisioningLog(createStores(database), () => undefined);
    log.record(
      entry(account.id, {
        path: '/Users?access_token=rst_abc123&filter=userName%20eq%20%22a%22&password=hunter2&Client-Secret=s3',
      }),
    );
    const [stored] = await log.list(account.id);
    expect(stored?.path).toBe(
      '/Users?access_token=[redacted]&filter=userName%20eq%20%22a%22&password=[redacted]&Client-Secret=[redacted]',
    );
    expect(stored?.path).not.toContain('rst_abc123');
    expect(stored?.path).not.toContain('hunter2');
  });
});

describe.each(DATABASE_KINDS)('a SCIM body with U+0000 does not erase the log (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => server?.close());

  it("another account's entries survive a raw NUL body sent alongside them", async () => {
    const victim = await server.createTenant('Victim');
    const attacker = await server.createTenant('Attacker');
    const victimCalls = Array.from({ length: 10 }, () =>
      fetch(`${victim.baseUrl}/Users?count=1`, {
        headers: { authorization: `Bearer ${victim.token}` },
      }),
    );
    const attack = await fetch(`${attacker.baseUrl}/Users`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${attacker.token}`,
        'content-type': 'application/scim+json',
      },
      body: '{"a":\u0000}',
    });
    expect(attack.status).toBe(400);
    await attack.text();
    for (const response of await Promise.all(victimCalls)) {
      expect(response.status).toBe(200);
      await response.text();
    }
    expect(await server.log.list(victim.accountId)).toHaveLength(10);
    const [own] = await server.log.list(attacker.accountId);
    expect(own?.status).toBe(400);
    expect(own?.error).not.toContain('\u0000');
  });
});
