import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import type { NewUser } from '../../src/app/ports.js';
import type { JsonObject } from '../../src/core/resource/values.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { createStores } from '../../src/storage/stores.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { columnsOf } from './filter-seed.js';

const T0 = '2024-01-01T00:00:00.000Z';

function user(userName: string): NewUser {
  const data: JsonObject = { userName, active: true };
  return {
    id: randomUUID(),
    ...columnsOf(data),
    createdAt: T0,
    updatedAt: T0,
    data,
    passwordHash: null,
  };
}

/**
 * `Stores.forAccount` keeps each account's stores across requests (src/storage/stores.ts):
 * the same account gets the same stores, another account never gets them, and stores
 * dropped past the bound are made again for the right account.
 */
describe.each(DATABASE_KINDS)('account-scoped stores (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  it("keeps an account's stores and never hands them to another account", async () => {
    const stores = createStores(database);
    const a = await createAccount(stores, { name: 'Acme' });
    const b = await createAccount(stores, { name: 'Globex' });

    const first = stores.forAccount(a.id);
    expect(stores.forAccount(a.id)).toBe(first);
    expect(stores.forAccount(a.id).directory).toBe(first.directory);
    expect(first.accountId).toBe(a.id);
    const other = stores.forAccount(b.id);
    expect(other).not.toBe(first);
    expect(other.accountId).toBe(b.id);
    expect(other.directory).not.toBe(first.directory);

    const alice = user('alice@acme.example');
    await stores.forAccount(a.id).directory.insertUser(alice);
    const bob = user('bob@globex.example');
    await stores.forAccount(b.id).directory.insertUser(bob);

    expect((await stores.forAccount(a.id).directory.getUser(alice.id))?.userName).toBe(
      'alice@acme.example',
    );
    expect(await stores.forAccount(a.id).directory.getUser(bob.id)).toBeUndefined();
    expect((await stores.forAccount(b.id).directory.getUser(bob.id))?.userName).toBe(
      'bob@globex.example',
    );
    expect(await stores.forAccount(b.id).directory.getUser(alice.id)).toBeUndefined();
  });

  it('drops the oldest past its bound and makes them again for the right account', async () => {
    const stores = createStores(database, { accountStoresKept: 2 });
    const accounts = [];
    for (const name of ['One', 'Two', 'Three'])
      accounts.push(await createAccount(stores, { name }));
    const [one, two, three] = accounts.map((account) => account.id) as [string, string, string];

    const users = new Map<string, NewUser>();
    for (const id of [one, two, three]) {
      const u = user(`someone@${id}.example`);
      users.set(id, u);
      await stores.forAccount(id).directory.insertUser(u);
    }
    // Three accounts through a bound of two: `one` was dropped, and is made afresh.
    const oneAgain = stores.forAccount(one);
    expect(oneAgain.accountId).toBe(one);
    for (const id of [one, two, three]) {
      const scoped = stores.forAccount(id);
      expect(scoped.accountId).toBe(id);
      for (const [owner, u] of users) {
        const found = await scoped.directory.getUser(u.id);
        if (owner === id) expect(found?.userName).toBe(`someone@${id}.example`);
        else expect(found).toBeUndefined();
      }
      const page = await scoped.directory.listUsers({ descending: false, offset: 0, limit: 10 });
      expect(page.rows.map((r) => r.id)).toEqual([users.get(id)!.id]);
    }
  });
});
