import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { logCsv, logEntryDiff, logOverview, queryLog } from '../../src/app/console/log.js';
import { ProvisioningLog, readLog, type LogEntry } from '../../src/app/provisioning-log.js';
import { UsersService } from '../../src/app/scim/users.js';
import type { AccountStores, Stores } from '../../src/app/stores.js';
import { issueToken } from '../../src/app/tokens.js';
import { logQueryOf } from '../../src/cli/log.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createStores } from '../../src/storage/stores.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { TENANT_ADMIN_PASSWORD } from '../helpers/server.js';

const NOW = new Date();
const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

/**
 * The provisioning log read through the account's stores (the CLI's flags, the console's
 * filters, overview and diffs, the admin API's list), without HTTP, on both databases.
 */
describe.each(DATABASE_KINDS)('provisioning log on the stores (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let stores: Stores;
  let account: AccountStores;
  let other: AccountStores;
  let log: ProvisioningLog;
  let tokenId: string;
  let userId: string;

  function entry(overrides: Partial<LogEntry>): LogEntry {
    return {
      accountId: account.accountId,
      at: minutesAgo(1),
      tokenId,
      method: 'GET',
      path: '/Users',
      status: 200,
      resourceType: 'User',
      resourceId: null,
      durationMs: 2,
      change: null,
      error: null,
      ...overrides,
    };
  }

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    stores = createStores(database);
    log = new ProvisioningLog(stores, (error) => {
      throw error;
    });
    account = stores.forAccount((await createAccount(stores, { name: 'Logged' })).id);
    other = stores.forAccount((await createAccount(stores, { name: 'Other' })).id);
    await createAdmin(stores, {
      accountId: account.accountId,
      email: 'admin@logged.example',
      password: TENANT_ADMIN_PASSWORD,
    });
    const issued = await issueToken(stores, {
      accountId: account.accountId,
      type: 'scim',
      name: 'Entra',
      adminEmail: 'admin@logged.example',
    });
    tokenId = issued.id;
    const created = await new UsersService(account.directory, {
      baseUrl: 'http://roster.test',
    }).create({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'jane@example.com',
      active: true,
    });
    userId = created.resourceId!;
    const deactivated = await new UsersService(account.directory, {
      baseUrl: 'http://roster.test',
    }).patch(
      userId,
      {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      },
      undefined,
      {},
    );
    expect(deactivated.status).toBe(200);
    log.record(entry({ at: minutesAgo(180), path: '/Users?count=1' }));
    log.record(
      entry({
        at: minutesAgo(20),
        method: 'POST',
        status: 409,
        error: 'userName is taken',
        path: '/Users',
      }),
    );
    log.record(
      entry({
        at: new Date().toISOString(),
        method: 'PATCH',
        path: `/Users/${userId}`,
        resourceId: userId,
        change: { op: 'patch', attributes: ['active'] },
        durationMs: 60_000,
      }),
    );
    log.record(entry({ accountId: other.accountId, tokenId, path: '/Users?other=1' }));
    await log.flush();
  });
  afterAll(async () => {
    await log?.close();
    await database?.close();
    await testDb?.dispose();
  });

  it("lists one account's entries newest first with the token's name, paged by id", async () => {
    const entries = await log.list(account.accountId);
    expect(entries.map((e) => e.method)).toEqual(['PATCH', 'POST', 'GET']);
    expect(entries.every((e) => e.tokenName === 'Entra' && e.source === 'scim')).toBe(true);
    const older = await log.list(account.accountId, { limit: 1, beforeId: entries[1]!.id });
    expect(older.map((e) => e.path)).toEqual(['/Users?count=1']);
    // Another account's entry naming this account's token shows no name, and stays there.
    const [foreign] = await readLog(other, { limit: 10 });
    expect(foreign).toMatchObject({ path: '/Users?other=1', tokenName: null });
  });

  it("reads the CLI's flags: durations back from now, ok or failed, method, token, resource", async () => {
    const methods = async (flags: Parameters<typeof logQueryOf>[0]) =>
      (await readLog(account, logQueryOf(flags, NOW))).map((e) => e.method);
    expect(await methods({ limit: 50, since: '1h' })).toEqual(['PATCH', 'POST']);
    expect(await methods({ limit: 50, until: '1h' })).toEqual(['GET']);
    expect(await methods({ limit: 50, status: 'failed' })).toEqual(['POST']);
    expect(await methods({ limit: 50, status: 'ok', method: 'patch' })).toEqual(['PATCH']);
    expect(await methods({ limit: 50, status: '409' })).toEqual(['POST']);
    expect(await methods({ limit: 50, resource: userId })).toEqual(['PATCH']);
    expect(await methods({ limit: 50, token: 'no-such-token' })).toEqual([]);
    expect(() => logQueryOf({ limit: 5, status: 'broken' }, NOW)).toThrow(/--status takes ok/);
    expect(() => logQueryOf({ limit: 5, method: 'TRACE' }, NOW)).toThrow(/--method takes GET/);
    expect(() => logQueryOf({ limit: 5, since: 'yesterday' }, NOW)).toThrow(/--since takes a time/);
  });

  it("answers the console's filters with summaries, an overview and a CSV", async () => {
    const failures = await queryLog(account, { outcome: 'failure', limit: 10 });
    expect(failures.entries.map((e) => e.summary)).toEqual([
      "SCIM token 'Entra' failed to create /Users (HTTP 409): userName is taken",
    ]);
    const updates = await queryLog(account, { operation: 'update', limit: 10 });
    expect(updates.entries[0]).toMatchObject({
      resourceName: 'jane@example.com',
      summary: "SCIM token 'Entra' deactivated jane@example.com",
    });
    const paged = await queryLog(account, { limit: 1 });
    expect(paged.next).toBe(paged.entries[0]!.id);
    const window = await queryLog(account, {
      from: minutesAgo(200),
      to: minutesAgo(100),
      limit: 10,
    });
    expect(window.entries.map((e) => e.path)).toEqual(['/Users?count=1']);
    await expect(queryLog(account, { from: 'soon', limit: 10 })).rejects.toMatchObject({
      kind: 'invalid',
    });
    expect((await queryLog(other, { token: tokenId, limit: 10 })).entries[0]!.summary).toBe(
      'An unknown token read /Users?other=1',
    );
    expect(logCsv(failures.entries).split('\r\n')[1]).toContain(
      ',failure,create,POST,/Users,409,Entra,',
    );

    const overview = await logOverview(account, new Date());
    expect(overview.hours).toHaveLength(24);
    expect(overview.requests24h).toBe(3);
    expect(overview.failures24h).toBe(1);
    expect(overview.tokens).toEqual([
      { tokenId, tokenName: 'Entra', lastRequestAt: expect.any(String) },
    ]);
    expect(overview.healthy).toBe(false);
    expect((await logOverview(other, new Date())).tokens).toEqual([]);
  });

  it('tells a quiet account from one never provisioned once its entries are past retention', async () => {
    const quiet = stores.forAccount((await createAccount(stores, { name: 'Quiet' })).id);
    await createAdmin(stores, {
      accountId: quiet.accountId,
      email: 'admin@quiet.example',
      password: TENANT_ADMIN_PASSWORD,
    });
    expect((await logOverview(quiet, NOW)).health).toMatch(/^No provisioning request yet/);
    const issued = await issueToken(stores, {
      accountId: quiet.accountId,
      type: 'scim',
      name: 'Entra',
      adminEmail: 'admin@quiet.example',
    });
    // Used forty days ago; its log entries are gone (LOG_RETENTION_DAYS).
    await quiet.tokens.recordUse(issued.id, minutesAgo(40 * 24 * 60));
    const overview = await logOverview(quiet, NOW);
    expect(overview.lastRequestAt).toBe(minutesAgo(40 * 24 * 60));
    expect(overview.health).toMatch(/^No request for 40 days/);
    expect(overview.healthy).toBe(false);
  });

  it("gives the before/after of the user an entry changed, and nothing for another account's entry", async () => {
    const [patch] = await readLog(account, { limit: 1, methods: ['PATCH'] });
    expect((await logEntryDiff(account, patch!.id)).changes).toEqual([
      { attribute: 'active', before: true, after: false },
    ]);
    await expect(logEntryDiff(other, patch!.id)).rejects.toMatchObject({ kind: 'not_found' });
  });
});
