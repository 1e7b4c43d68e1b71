import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { seedAccount } from '../../src/storage/seed.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { createStores } from '../../src/storage/stores.js';

/** Many steps of the page anchors (every 100th position), and pages between them. */
const USERS = 2_600;

describe.each(DATABASE_KINDS)('unfiltered user pages at any offset (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;
  let store: KyselyAccountStore;
  let other: KyselyAccountStore;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
    const account = await createAccount(createStores(database), { name: 'Deep' });
    const second = await createAccount(createStores(database), { name: 'Other' });
    await seedAccount(testDb.url, { accountId: account.id, users: USERS });
    await seedAccount(testDb.url, { accountId: second.id, users: 30 });
    store = new KyselyAccountStore(database.db, database.dialect, account.id);
    other = new KyselyAccountStore(database.db, database.dialect, second.id);
  }, 120_000);

  afterAll(async () => {
    await testDb?.dispose();
  });

  /** The list order straight from the table: what every page must match. */
  async function expected(accountId = store.accountId): Promise<string[]> {
    const rows = await database.db
      .selectFrom('users')
      .select('id')
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async function page(offset: number, limit = 50) {
    const result = await store.listUsers({ descending: false, offset, limit, maxBytes: 1 << 22 });
    return { total: result.total, ids: result.rows.map((r) => r.id) };
  }

  it('gives the page at the offset and the exact total, deep pages read twice included', async () => {
    const order = await expected();
    expect(order).toHaveLength(USERS);
    for (const offset of [0, 999, 1000, 1001, 2050, 2050, 2599, 1500, 99, 100, 101, 150, 2500]) {
      const got = await page(offset);
      expect(got.total).toBe(USERS);
      expect(got.ids).toEqual(order.slice(offset, offset + 50));
    }
    // Pages of 100 from an anchor, and pages that run past the next anchor.
    for (const [offset, limit] of [
      [1700, 100],
      [1750, 100],
      [2550, 100],
      [130, 250],
    ] as const) {
      const got = await page(offset, limit);
      expect(got.ids).toEqual(order.slice(offset, offset + limit));
    }
    const beyond = await page(USERS + 10);
    expect(beyond).toEqual({ total: USERS, ids: [] });
  });

  it('stays exact after users are deleted and inserted before a remembered position', async () => {
    await page(2050); // positions remembered
    const order = await expected();
    // Delete two users early in the order: every later position moves by two.
    for (const id of [order[10]!, order[1200]!]) expect(await store.deleteUser(id)).toBe(true);
    const now = await expected();
    expect(now).toHaveLength(USERS - 2);
    for (const offset of [2050, 1100, 2040]) {
      const got = await page(offset);
      expect(got.total).toBe(USERS - 2);
      expect(got.ids).toEqual(now.slice(offset, offset + 50));
    }
    // A user created with an early timestamp sorts before the remembered positions.
    await store.insertUser({
      id: '00000000-0000-4000-8000-000000000001',
      userName: 'early@example.com',
      externalId: null,
      displayName: null,
      active: true,
      managerId: null,
      createdAt: '2000-01-01T00:00:00.000Z',
      updatedAt: '2000-01-01T00:00:00.000Z',
      data: { userName: 'early@example.com' },
      emails: [],
      passwordHash: null,
    });
    const after = await expected();
    expect(after[0]).toBe('00000000-0000-4000-8000-000000000001');
    for (const offset of [2050, 0, 1000]) {
      const got = await page(offset);
      expect(got.total).toBe(USERS - 1);
      expect(got.ids).toEqual(after.slice(offset, offset + 50));
    }
  });

  it("counts only the account's own users, and keeps counting through rolled-back writes", async () => {
    expect((await other.listUsers({ descending: false, offset: 0, limit: 10 })).total).toBe(30);
    const victim = (await expected())[5]!;
    await expect(
      store.transaction(async (tx) => {
        await tx.deleteUser(victim);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect((await page(0)).total).toBe(USERS - 1);
    const row = await database.db
      .selectFrom('accounts')
      .select('user_count')
      .where('id', '=', other.accountId)
      .executeTakeFirstOrThrow();
    expect(Number(row.user_count)).toBe(30);
  });

  it('deep pages asked at once on an account without anchors share one walk of the list order', async () => {
    const account = await createAccount(createStores(database), { name: 'Import' });
    await seedAccount(testDb.url, { accountId: account.id, users: 1_000 });
    const fresh = new KyselyAccountStore(database.db, database.dialect, account.id);
    const order = await expected(account.id);
    const builds = vi.spyOn(
      KyselyAccountStore.prototype as unknown as { buildAnchors: () => Promise<void> },
      'buildAnchors',
    );
    try {
      const offsets = [100, 200, 300, 400, 500, 600, 700, 800, 900, 950];
      const pages = await Promise.all(
        offsets.map((offset) =>
          fresh.listUsers({ descending: false, offset, limit: 100, maxBytes: 1 << 22 }),
        ),
      );
      pages.forEach((p, i) => {
        expect(p.total).toBe(1_000);
        expect(p.rows.map((r) => r.id)).toEqual(order.slice(offsets[i], offsets[i]! + 100));
      });
      expect(builds).toHaveBeenCalledTimes(1);
    } finally {
      builds.mockRestore();
    }
  });

  it('a failed anchor build leaves pages exact, read by offset, and is not retried before each page', async () => {
    const account = await createAccount(createStores(database), { name: 'Timeouts' });
    await seedAccount(testDb.url, { accountId: account.id, users: 500 });
    const fresh = new KyselyAccountStore(database.db, database.dialect, account.id);
    const order = await expected(account.id);
    const builds = vi
      .spyOn(
        KyselyAccountStore.prototype as unknown as { buildAnchors: () => Promise<void> },
        'buildAnchors',
      )
      .mockRejectedValue(new Error('canceling statement due to statement timeout'));
    try {
      for (const offset of [300, 200, 400]) {
        const got = await fresh.listUsers({ descending: false, offset, limit: 50 });
        expect(got.total).toBe(500);
        expect(got.rows.map((r) => r.id)).toEqual(order.slice(offset, offset + 50));
      }
      expect(builds).toHaveBeenCalledTimes(1);
    } finally {
      builds.mockRestore();
    }
  });
});
