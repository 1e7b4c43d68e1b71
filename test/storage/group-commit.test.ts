import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import type { AccountStore, NewUser } from '../../src/app/ports.js';
import type { JsonObject } from '../../src/core/resource/values.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { GROUP_COMMIT_MAX_WORKS } from '../../src/storage/group-commit.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { columnsOf } from './filter-seed.js';
import { createStores } from '../../src/storage/stores.js';

/**
 * Concurrent write transactions (group commit on SQLite, src/storage/group-commit.ts;
 * ordinary transactions on PostgreSQL): each commits or fails on its own.
 */
function user(userName: string): NewUser {
  const data: JsonObject = { userName, active: true };
  const at = '2024-01-01T00:00:00.000Z';
  return {
    id: randomUUID(),
    ...columnsOf(data),
    createdAt: at,
    updatedAt: at,
    data,
    passwordHash: null,
  };
}

describe.each(DATABASE_KINDS)('concurrent write transactions (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });

  afterAll(async () => {
    await testDb.dispose();
  });

  async function freshStore(): Promise<AccountStore> {
    const account = await createAccount(createStores(database), { name: `gc-${randomUUID()}` });
    return new KyselyAccountStore(database.db, database.dialect, account.id);
  }

  it('a failing transaction among concurrent ones rolls back alone and rejects only its caller', async () => {
    const store = await freshStore();
    const boom = new Error('work failed after writing');
    const works = Array.from({ length: 12 }, (_, i) =>
      store.transaction(async (tx) => {
        await tx.insertUser(user(`u${i}@example.com`));
        if (i % 4 === 1) throw boom; // after its insert: the insert must be undone
        return i;
      }),
    );
    const settled = await Promise.allSettled(works);
    settled.forEach((outcome, i) => {
      if (i % 4 === 1) expect(outcome).toEqual({ status: 'rejected', reason: boom });
      else expect(outcome).toEqual({ status: 'fulfilled', value: i });
    });
    const page = await store.listUsers({ descending: false, offset: 0, limit: 100 });
    expect(page.rows.map((r) => r.userName).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => i)
        .filter((i) => i % 4 !== 1)
        .map((i) => `u${i}@example.com`)
        .sort(),
    );
  });

  it('a uniqueness conflict inside a batch fails only the second writer', async () => {
    const store = await freshStore();
    const [first, second, third] = await Promise.allSettled([
      store.transaction((tx) => tx.insertUser(user('same@example.com'))),
      store.transaction((tx) => tx.insertUser(user('SAME@example.com'))),
      store.transaction((tx) => tx.insertUser(user('other@example.com'))),
    ]);
    if (kind === 'sqlite') {
      // Grouped writes commit in arrival order: the second writer is the one refused.
      expect(first.status).toBe('fulfilled');
      expect(second).toMatchObject({ status: 'rejected', reason: { status: 409 } });
    } else {
      // PostgreSQL runs the two concurrently: whichever commits first wins, the other
      // gets the 409, and neither drags the third writer down.
      const pair = [first, second];
      expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(pair.find((r) => r.status === 'rejected')).toMatchObject({
        reason: { status: 409 },
      });
    }
    expect(third.status).toBe('fulfilled');
    const page = await store.listUsers({ descending: false, offset: 0, limit: 100 });
    expect(page.total).toBe(2);
  });

  it('later transactions see the writes of earlier ones, also beyond one batch', async () => {
    const store = await freshStore();
    const count = GROUP_COMMIT_MAX_WORKS * 2 + 3;
    const seen = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        store.transaction(async (tx) => {
          const before = await tx.listUsers({ descending: false, offset: 0, limit: 0 });
          await tx.insertUser(user(`n${i}@example.com`));
          return before.total;
        }),
      ),
    );
    // SQLite runs write transactions one after another (savepoints of one transaction when
    // grouped): each saw exactly the ones before it. PostgreSQL runs them concurrently.
    if (kind === 'sqlite')
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    const page = await store.listUsers({ descending: false, offset: 0, limit: 0 });
    expect(page.total).toBe(count);
  });

  it('a resolved transaction is visible to a new connection (committed, not only queued)', async () => {
    const store = await freshStore();
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.transaction((tx) => tx.insertUser(user(`c${i}@example.com`))),
      ),
    );
    const other = await openDatabase(testDb.url);
    try {
      const fresh = new KyselyAccountStore(other.db, other.dialect, store.accountId);
      expect((await fresh.listUsers({ descending: false, offset: 0, limit: 0 })).total).toBe(5);
    } finally {
      await other.close();
    }
  });
});
