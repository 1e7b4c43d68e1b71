import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/app/accounts.js';
import type { AccountStore, EmailRow, GroupRow, NewUser } from '../../src/app/ports.js';
import { ScimError } from '../../src/core/errors.js';
import { parseAttrPath, parseFilter } from '../../src/core/filter/parse.js';
import { typeFilter } from '../../src/core/filter/typed.js';
import type { JsonObject } from '../../src/core/resource/values.js';
import { resolvePath } from '../../src/core/schemas/resolve.js';
import { GROUP_RESOURCE, USER_RESOURCE } from '../../src/core/schemas/rfc7643.js';
import { KyselyAccountStore } from '../../src/storage/account-store.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { columnsOf } from './filter-seed.js';
import { createStores } from '../../src/storage/stores.js';

/**
 * The AccountStore contract (src/app/ports.ts), run on SQLite and PostgreSQL
 * (ARCHITECTURE conventions 4, 5, 8). Each test works in fresh accounts, so tests
 * are independent though they share one database per dialect.
 */
const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-02T00:00:00.000Z';

function user(data: JsonObject, at = T0, id: string = randomUUID()): NewUser {
  return { id, ...columnsOf(data), createdAt: at, updatedAt: at, data, passwordHash: null };
}

function group(displayName: string, at = T0, id: string = randomUUID()): Omit<GroupRow, 'version'> {
  return { id, displayName, externalId: null, createdAt: at, updatedAt: at, data: { displayName } };
}

const userFilter = (text: string) => typeFilter(parseFilter(text), USER_RESOURCE);
const groupFilter = (text: string) => typeFilter(parseFilter(text), GROUP_RESOURCE);
const ALL = { descending: false, offset: 0, limit: 1000 } as const;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectUniqueness(error: unknown): void {
  expect(error).toBeInstanceOf(ScimError);
  expect(error).toMatchObject({ status: 409, scimType: 'uniqueness' });
}

describe.each(DATABASE_KINDS)('AccountStore contract (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  async function newStore(name = 'Acme'): Promise<AccountStore> {
    const account = await createAccount(createStores(database), { name });
    return new KyselyAccountStore(database.db, database.dialect, account.id);
  }

  async function ids(store: AccountStore, text: string): Promise<string[]> {
    const page = await store.listUsers({ ...ALL, filter: userFilter(text) });
    return page.rows.map((r) => r.id).sort();
  }

  async function emailRows(userId: string): Promise<EmailRow[]> {
    const rows = await database.db
      .selectFrom('user_emails')
      .select(['value_lc', 'type_lc', 'is_primary'])
      .where('user_id', '=', userId)
      .orderBy('value_lc')
      .execute();
    return rows.map((r) => ({
      value: r.value_lc,
      type: r.type_lc,
      primary: Number(r.is_primary) === 1,
    }));
  }

  describe('users', () => {
    it('inserts and gets a user with every column and its document', async () => {
      const store = await newStore();
      const manager = user({ userName: 'boss', active: true });
      await store.insertUser(manager);
      const data: JsonObject = {
        userName: 'Ärger@Example.com',
        externalId: 'Ext-1',
        displayName: 'Ärger Ä',
        active: false,
        name: { givenName: 'Ä' },
        emails: [{ value: 'A@X.com', type: 'Work', primary: true }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
          manager: { value: manager.id },
        },
      };
      const u = user(data, T1);
      await store.insertUser(u);
      expect(await store.getUser(u.id)).toEqual({
        id: u.id,
        userName: 'Ärger@Example.com',
        externalId: 'Ext-1',
        displayName: 'Ärger Ä',
        active: false,
        managerId: manager.id,
        createdAt: T1,
        updatedAt: T1,
        version: 1,
        data,
      });
      expect(await store.getUser(u.id, { forUpdate: true })).toMatchObject({
        id: u.id,
        version: 1,
      });
      expect(await store.getUser(randomUUID())).toBeUndefined();
      expect(await emailRows(u.id)).toEqual([{ value: 'a@x.com', type: 'work', primary: true }]);
    });

    it('a settled update (row locked, same userName) answers true and commits with the transaction, or not at all', async () => {
      const store = await newStore();
      const u = user({
        userName: 'settled@x.com',
        title: 'first',
        active: true,
        emails: [{ value: 'settled@x.com', type: 'work', primary: true }],
      });
      await store.insertUser(u);
      const next = (title: string, version: number) => {
        const data = {
          userName: 'Settled@X.com',
          title,
          active: true,
          emails: [{ value: 'new@x.com', type: 'work', primary: true }],
        };
        return { ...u, ...columnsOf(data), data, updatedAt: T1, version };
      };
      // Taken for granted, then written at COMMIT (PostgreSQL: sent with it, pg-fold.ts).
      const written = await store.transaction(async (tx) => {
        await tx.getUser(u.id, { lock: 'noKeyUpdate' });
        return tx.updateUser(next('second', 2), 1, true);
      });
      expect(written).toBe(true);
      expect(await store.getUser(u.id)).toMatchObject({
        userName: 'Settled@X.com',
        version: 2,
        data: { title: 'second' },
      });
      expect(await emailRows(u.id)).toEqual([{ value: 'new@x.com', type: 'work', primary: true }]);
      // A transaction that fails after it stores nothing of it.
      const failed = await store
        .transaction(async (tx) => {
          await tx.getUser(u.id, { lock: 'noKeyUpdate' });
          await tx.updateUser(next('third', 3), 2, true);
          throw new Error('turned back');
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(String(failed)).toMatch(/turned back/);
      expect(await store.getUser(u.id)).toMatchObject({ version: 2, data: { title: 'second' } });
      // Outside a transaction it runs at once and says what it did.
      expect(await store.updateUser(next('fourth', 3), 2, true)).toBe(true);
      expect(await store.getUser(u.id)).toMatchObject({ version: 3, data: { title: 'fourth' } });
    });

    it('updates only at the expected version; a stale version changes nothing', async () => {
      const store = await newStore();
      const u = user({ userName: 'v1', title: 'first', active: true });
      await store.insertUser(u);
      const next = {
        ...u,
        ...columnsOf({ userName: 'v2', active: false }),
        data: { userName: 'v2', title: 'second', active: false },
      };
      expect(await store.updateUser({ ...next, updatedAt: T1, version: 2 }, 1)).toBe(true);
      const stored = await store.getUser(u.id);
      expect(stored).toMatchObject({
        userName: 'v2',
        active: false,
        version: 2,
        createdAt: T0,
        updatedAt: T1,
        data: { title: 'second' },
      });

      // Another writer already moved it to version 2: a write expecting 1 is refused.
      expect(
        await store.updateUser(
          {
            ...next,
            data: { userName: 'v3', active: true },
            userName: 'v3',
            updatedAt: T1,
            version: 2,
          },
          1,
        ),
      ).toBe(false);
      expect(await store.getUser(u.id)).toEqual(stored);
      expect(
        await store.updateUser({ ...next, id: randomUUID(), updatedAt: T1, version: 2 }, 1),
      ).toBe(false);
    });

    it('keeps the stored password hash unless the update names one', async () => {
      const store = await newStore();
      const u = { ...user({ userName: 'pw', active: true }), passwordHash: 'scrypt$old' };
      await store.insertUser(u);
      const hash = async () =>
        (
          await database.db
            .selectFrom('users')
            .select('password_hash')
            .where('id', '=', u.id)
            .executeTakeFirstOrThrow()
        ).password_hash;
      expect(await store.updateUser({ ...u, version: 2 }, 1)).toBe(true);
      expect(await hash()).toBe('scrypt$old');
      expect(await store.updateUser({ ...u, version: 3, passwordHash: null }, 2)).toBe(true);
      expect(await hash()).toBeNull();
    });

    it('rejects a userName that differs only in case, on insert and update (409 uniqueness)', async () => {
      const store = await newStore();
      await store.insertUser(user({ userName: 'Alice@Example.com', active: true }));
      await store.insertUser(user({ userName: 'ärger', active: true }));
      expectUniqueness(
        await rejection(store.insertUser(user({ userName: 'ALICE@example.COM', active: true }))),
      );
      // Unicode folding, not ASCII only.
      expectUniqueness(
        await rejection(store.insertUser(user({ userName: 'ÄRGER', active: true }))),
      );

      const bob = user({ userName: 'bob', active: true });
      await store.insertUser(bob);
      const renamed = {
        ...bob,
        userName: 'alice@EXAMPLE.com',
        data: { userName: 'alice@EXAMPLE.com' },
        version: 2,
      };
      expectUniqueness(await rejection(store.updateUser(renamed, 1)));
      expect(await store.getUser(bob.id)).toMatchObject({ userName: 'bob', version: 1 });
      // Changing only the case of one's own userName is fine.
      expect(
        await store.updateUser(
          { ...bob, userName: 'BOB', data: { userName: 'BOB' }, version: 2 },
          1,
        ),
      ).toBe(true);

      // Another account may use the same userName.
      const other = await newStore('Other');
      await other.insertUser(user({ userName: 'alice@example.com', active: true }));
    });

    it('keeps the emails side table in step with the document on update', async () => {
      const store = await newStore();
      const data = {
        userName: 'mails',
        active: true,
        emails: [
          { value: 'Old@X.com', type: 'work' },
          { value: 'home@x.com', type: 'home', primary: true },
        ],
      };
      const u = user(data);
      await store.insertUser(u);
      expect(await ids(store, 'emails.value eq "old@x.com"')).toEqual([u.id]);
      expect(await ids(store, 'emails[type eq "home" and value eq "HOME@x.com"]')).toEqual([u.id]);

      const newData = {
        userName: 'mails',
        active: true,
        emails: [{ value: 'New@X.com', type: 'other' }],
      };
      expect(
        await store.updateUser({ ...u, ...columnsOf(newData), data: newData, version: 2 }, 1),
      ).toBe(true);
      expect(await emailRows(u.id)).toEqual([
        { value: 'new@x.com', type: 'other', primary: false },
      ]);
      expect(await ids(store, 'emails.value eq "old@x.com"')).toEqual([]);
      expect(await ids(store, 'emails[type eq "home"]')).toEqual([]);
      expect(await ids(store, 'emails.value eq "NEW@x.com"')).toEqual([u.id]);

      const none = { userName: 'mails', active: true };
      expect(await store.updateUser({ ...u, ...columnsOf(none), data: none, version: 3 }, 2)).toBe(
        true,
      );
      expect(await emailRows(u.id)).toEqual([]);
      // A refused (stale) update leaves the emails alone.
      expect(await store.updateUser({ ...u, version: 4 }, 2)).toBe(false);
      expect(await emailRows(u.id)).toEqual([]);
    });

    it('deletes a user with its emails; a second delete reports false', async () => {
      const store = await newStore();
      const u = user({ userName: 'gone', active: true, emails: [{ value: 'gone@x.com' }] });
      await store.insertUser(u);
      expect(await store.deleteUser(u.id)).toBe(true);
      expect(await store.getUser(u.id)).toBeUndefined();
      expect(await emailRows(u.id)).toEqual([]);
      expect(await ids(store, 'emails.value eq "gone@x.com"')).toEqual([]);
      expect(await store.deleteUser(u.id)).toBe(false);
      // The userName is free again.
      await store.insertUser(user({ userName: 'GONE', active: true }));
    });

    it('userNames gives displayName, else userName, for known ids only', async () => {
      const store = await newStore();
      const a = user({ userName: 'a', displayName: 'Alpha', active: true });
      const b = user({ userName: 'b', active: true });
      await store.insertUser(a);
      await store.insertUser(b);
      const names = await store.userNames([a.id, b.id, a.id, randomUUID()]);
      expect(Object.fromEntries(names)).toEqual({ [a.id]: 'Alpha', [b.id]: 'b' });
      expect((await store.userNames([])).size).toBe(0);
    });
  });

  describe('listing', () => {
    async function storeWith(count: number) {
      const store = await newStore();
      const users: NewUser[] = [];
      for (let i = 0; i < count; i++) {
        // Created in reverse order of i, so the default order (created_at, id) is not insertion order.
        const u = user(
          { userName: `user${String(i).padStart(2, '0')}`, active: true },
          new Date(Date.parse(T0) + (count - i) * 1000).toISOString(),
        );
        users.push(u);
        await store.insertUser(u);
      }
      return { store, users };
    }

    it('pages with offset and limit and reports the total of the whole result', async () => {
      const { store, users } = await storeWith(7);
      const byCreated = [...users]
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
        .map((u) => u.id);
      const page = (offset: number, limit: number) =>
        store.listUsers({ descending: false, offset, limit });
      expect(await page(0, 3)).toMatchObject({ total: 7 });
      expect((await page(0, 3)).rows.map((r) => r.id)).toEqual(byCreated.slice(0, 3));
      expect((await page(3, 3)).rows.map((r) => r.id)).toEqual(byCreated.slice(3, 6));
      expect((await page(6, 3)).rows.map((r) => r.id)).toEqual(byCreated.slice(6));
      expect(await page(7, 3)).toEqual({ total: 7, rows: [] });
      expect(await page(100, 3)).toEqual({ total: 7, rows: [] });
      // count=0 asks for the total only (RFC 7644 §3.4.2.4).
      expect(await page(0, 0)).toEqual({ total: 7, rows: [] });

      const filtered = await store.listUsers({
        filter: userFilter('userName sw "user0"'),
        descending: false,
        offset: 2,
        limit: 2,
      });
      expect(filtered.total).toBe(7);
      const few = await store.listUsers({
        filter: userFilter('userName le "user02"'),
        descending: false,
        offset: 1,
        limit: 10,
      });
      expect(few.total).toBe(3);
      expect(few.rows).toHaveLength(2);
    });

    it('userName eq finds the one user case-insensitively, as the general filter path does', async () => {
      const store = await newStore();
      const boss = user({ userName: 'boss', displayName: 'The Boss', active: true });
      await store.insertUser(boss);
      const data: JsonObject = {
        userName: 'Ärger@Example.com',
        active: true,
        title: 'x'.repeat(2000),
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
          manager: { value: boss.id },
        },
      };
      const u = user(data);
      await store.insertUser(u);
      await store.insertUser(user({ userName: 'Ärger@Example.org', active: true }));
      const [b, a] = [group('Bravo'), group('alpha')];
      await store.insertGroup(b);
      await store.insertGroup(a);
      await store.addMembers(b.id, [{ id: u.id, type: 'User' }], T0);
      await store.addMembers(a.id, [{ id: u.id, type: 'User' }], T0);
      // The same user in another account is never found.
      await (
        await newStore('Other')
      ).insertUser(user({ userName: 'ärger@example.com', active: true }));

      const lookup = (text: string, more: Partial<Parameters<AccountStore['listUsers']>[0]> = {}) =>
        store.listUsers({ ...ALL, filter: userFilter(text), ...more });
      const expected = {
        id: u.id,
        userName: 'Ärger@Example.com',
        externalId: null,
        displayName: null,
        active: true,
        managerId: boss.id,
        createdAt: T0,
        updatedAt: T0,
        version: 1,
        data,
        groups: [
          { value: a.id, type: 'Group', display: 'alpha' },
          { value: b.id, type: 'Group', display: 'Bravo' },
        ],
        managerName: 'The Boss',
      };
      for (const text of ['userName eq "ärger@example.com"', 'USERNAME eq "ÄRGER@EXAMPLE.COM"']) {
        for (const more of [
          { related: true },
          // A byte budget smaller than the document: read after the page, as for any page.
          { related: true, maxBytes: 100 },
          { related: true, limit: 1 },
          { related: true, limit: 1, maxBytes: 100_000 },
        ]) {
          const page = await lookup(text, more);
          expect(page, `${text} ${JSON.stringify(more)}`).toEqual({ total: 1, rows: [expected] });
          // The general path (the same filter with a condition that changes nothing) agrees.
          expect(await lookup(`${text} and userName pr`, more)).toEqual(page);
        }
        const plain = await lookup(text);
        expect(plain.total).toBe(1);
        expect(plain.rows[0]).not.toHaveProperty('groups');
        expect(plain.rows[0]).toMatchObject({ id: u.id, data });
      }
      // userName is compared whole, never as a prefix; past the first position there is nothing.
      expect(await lookup('userName eq "ärger@example"')).toEqual({ total: 0, rows: [] });
      expect(await lookup('userName eq "ärger@example.com"', { offset: 1 })).toEqual({
        total: 1,
        rows: [],
      });
      expect(await lookup('userName eq "nobody"', { related: true, maxBytes: 100 })).toEqual({
        total: 0,
        rows: [],
      });
    });

    it('pages through users created at the same instant by id, each exactly once', async () => {
      // Entra's bulk creates land in the same millisecond: the id breaks the tie, so
      // consecutive pages neither repeat nor skip a user.
      const store = await newStore();
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) {
        const u = user({ userName: `tie${i}`, active: true }, T0);
        ids.push(u.id);
        await store.insertUser(u);
      }
      const seen: string[] = [];
      for (let offset = 0; offset < 9; offset += 2) {
        const page = await store.listUsers({ descending: false, offset, limit: 2 });
        expect(page.total).toBe(9);
        seen.push(...page.rows.map((r) => r.id));
      }
      expect(seen).toEqual([...ids].sort());
    });

    it('lists each user of an unfiltered page with exactly its direct teams by name and its manager name', async () => {
      const store = await newStore();
      const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
      const named = user({ userName: 'boss', displayName: 'The Boss', active: true }, T0);
      const unnamed = user({ userName: 'nameless-boss', active: true }, T0);
      await store.insertUser(named);
      await store.insertUser(unnamed);
      const reports = [
        user(
          { userName: 'many', active: true, [enterprise]: { manager: { value: named.id } } },
          T1,
        ),
        user(
          { userName: 'none', active: true, [enterprise]: { manager: { value: unnamed.id } } },
          T1,
        ),
        // A manager who is not (or no longer) a user of the account: no name.
        user(
          { userName: 'gone', active: true, [enterprise]: { manager: { value: randomUUID() } } },
          T1,
        ),
        user({ userName: 'nested', active: true }, T1),
      ];
      for (const r of reports) await store.insertUser(r);
      const [many, none, gone, nested] = reports as [NewUser, NewUser, NewUser, NewUser];
      const [charlie, alpha, bravo, outer] = ['charlie', 'Alpha', 'bravo', 'Outer'].map((n) =>
        group(n),
      ) as [GroupRow, GroupRow, GroupRow, GroupRow];
      for (const g of [charlie, alpha, bravo, outer]) await store.insertGroup(g);
      await store.addMembers(charlie.id, [{ id: many.id, type: 'User' }], T1);
      await store.addMembers(alpha.id, [{ id: many.id, type: 'User' }], T1);
      await store.addMembers(
        bravo.id,
        [
          { id: many.id, type: 'User' },
          { id: gone.id, type: 'User' },
        ],
        T1,
      );
      // `nested` is in Alpha's parent only through Alpha: it lists Alpha alone.
      await store.addMembers(alpha.id, [{ id: nested.id, type: 'User' }], T1);
      await store.addMembers(outer.id, [{ id: alpha.id, type: 'Group' }], T1);
      const teams = (...gs: GroupRow[]) =>
        gs.map((g) => ({ value: g.id, type: 'Group', display: g.displayName }));
      const expected = new Map<string, Partial<Record<'groups' | 'managerName', unknown>>>([
        [named.id, { groups: [], managerName: null }],
        [unnamed.id, { groups: [], managerName: null }],
        [many.id, { groups: teams(alpha, bravo, charlie), managerName: 'The Boss' }],
        [none.id, { groups: [], managerName: 'nameless-boss' }],
        [gone.id, { groups: teams(bravo), managerName: null }],
        [nested.id, { groups: teams(alpha), managerName: null }],
      ]);
      // Pages of every size and start, with and without a byte budget, agree with the
      // user read by id.
      for (const limit of [1, 2, 6])
        for (let offset = 0; offset < 6; offset += limit)
          for (const maxBytes of [undefined, 4 * 1024 * 1024]) {
            const page = await store.listUsers({
              descending: false,
              offset,
              limit,
              related: true,
              ...(maxBytes === undefined ? {} : { maxBytes }),
            });
            expect(page.total).toBe(6);
            expect(page.rows).toHaveLength(Math.min(limit, 6 - offset));
            for (const row of page.rows) {
              expect(row, row.userName).toMatchObject(expected.get(row.id)!);
              expect(row).toEqual(await store.getUser(row.id, { related: true }));
            }
          }
      // Without `related`, neither is read.
      const plain = await store.listUsers({ ...ALL });
      expect(plain.rows).toHaveLength(6);
      for (const row of plain.rows) {
        expect(row).not.toHaveProperty('groups');
        expect(row).not.toHaveProperty('managerName');
      }
    });

    it('sorts ascending and descending, case-insensitively, missing values last ascending and first descending', async () => {
      // RFC 7644 §3.4.2.3: "...they are ordered last if ascending and first if descending".
      const store = await newStore();
      const titles = ['banana', 'Apple', undefined, 'cherry', 'Äpfel', 'apricot'];
      const rows: NewUser[] = [];
      for (const [i, title] of titles.entries()) {
        const data: JsonObject = { userName: `s${i}`, active: true };
        if (title !== undefined) data['title'] = title;
        const u = user(data, new Date(Date.parse(T0) + i * 1000).toISOString());
        rows.push(u);
        await store.insertUser(u);
      }
      const sortBy = (text: string) =>
        resolvePath(USER_RESOURCE, parseAttrPath(text), 'invalidValue');
      const titlesOf = async (descending: boolean) =>
        (
          await store.listUsers({ sortBy: sortBy('title'), descending, offset: 0, limit: 100 })
        ).rows.map((r) => r.data['title'] ?? null);
      // Code point order after lower-casing: "äpfel" (U+00E4) sorts after the ASCII letters.
      expect(await titlesOf(false)).toEqual([
        'Apple',
        'apricot',
        'banana',
        'cherry',
        'Äpfel',
        null,
      ]);
      expect(await titlesOf(true)).toEqual([null, 'Äpfel', 'cherry', 'banana', 'apricot', 'Apple']);

      const names = async (path: string, descending: boolean, offset = 0, limit = 100) =>
        (await store.listUsers({ sortBy: sortBy(path), descending, offset, limit })).rows.map(
          (r) => r.userName,
        );
      expect(await names('userName', true)).toEqual(['s5', 's4', 's3', 's2', 's1', 's0']);
      expect(await names('meta.created', true)).toEqual(['s5', 's4', 's3', 's2', 's1', 's0']);
      expect(await names('meta.created', false, 2, 2)).toEqual(['s2', 's3']);
      // Sorting applies before paging.
      expect(await names('title', false, 1, 2)).toEqual(['s5', 's0']);
    });

    it('sorts a multi-valued attribute by its primary value, else its first', async () => {
      const store = await newStore();
      const a = user({
        userName: 'a',
        active: true,
        emails: [{ value: 'z@x.com' }, { value: 'b@x.com', primary: true }],
      });
      const b = user({
        userName: 'b',
        active: true,
        emails: [{ value: 'c@x.com' }, { value: 'a@x.com' }],
      });
      const c = user({ userName: 'c', active: true });
      for (const u of [a, b, c]) await store.insertUser(u);
      const sortBy = resolvePath(USER_RESOURCE, parseAttrPath('emails.value'), 'invalidValue');
      const order = async (descending: boolean) =>
        (await store.listUsers({ sortBy, descending, offset: 0, limit: 10 })).rows.map(
          (r) => r.userName,
        );
      expect(await order(false)).toEqual(['a', 'b', 'c']);
      expect(await order(true)).toEqual(['c', 'b', 'a']);
    });

    it('displayName eq finds the one SCIM team case-insensitively, as the general filter path does', async () => {
      const store = await newStore();
      const u = user({ userName: 'member', active: true });
      await store.insertUser(u);
      const team = {
        ...group('Ärger Team'),
        data: { displayName: 'Ärger Team', note: 'x'.repeat(2000) },
      };
      await store.insertGroup(team);
      await store.insertGroup(group('Ärger Team 2'));
      await store.addMembers(team.id, [{ id: u.id, type: 'User' }], T0);
      // A member change counts in the team's version (PostgreSQL: in a version shard).
      await store.countGroupChange(team.id, T1);
      expect((await store.getGroup(team.id))?.version).toBe(2);
      // A team built by a mapping rule is not a SCIM resource; another account's never shows.
      const mapped = group('Department: Sales');
      await store.insertGroup(mapped);
      await database.db
        .updateTable('groups')
        .set({ origin: 'department' })
        .where('id', '=', mapped.id)
        .execute();
      await (await newStore('Other')).insertGroup(group('ärger team'));

      const lookup = (
        text: string,
        more: Partial<Parameters<AccountStore['listGroups']>[0]> = {},
      ) => store.listGroups({ ...ALL, filter: groupFilter(text), ...more });
      const expected = {
        id: team.id,
        displayName: 'Ärger Team',
        externalId: null,
        createdAt: T0,
        updatedAt: T1,
        version: 2,
        data: team.data,
      };
      for (const text of ['displayName eq "ärger team"', 'DISPLAYNAME eq "ÄRGER TEAM"']) {
        for (const more of [{}, { maxBytes: 100 }, { limit: 1 }, { limit: 1, maxBytes: 100_000 }]) {
          const page = await lookup(text, more);
          expect(page, `${text} ${JSON.stringify(more)}`).toEqual({ total: 1, rows: [expected] });
          // The general path (the same filter with a condition that changes nothing) agrees.
          expect(await lookup(`${text} and displayName pr`, more)).toEqual(page);
        }
      }
      expect(await lookup('displayName eq "ärger"')).toEqual({ total: 0, rows: [] });
      expect(await lookup('displayName eq "department: sales"')).toEqual({ total: 0, rows: [] });
      expect(await lookup('displayName eq "ärger team"', { offset: 1 })).toEqual({
        total: 1,
        rows: [],
      });
      expect(await lookup('displayName eq "ärger team"', { limit: 0 })).toEqual({
        total: 1,
        rows: [],
      });
    });

    it('lists groups with filters, paging and sorting', async () => {
      const store = await newStore();
      for (const [i, name] of ['Beta', 'alpha', 'Gamma'].entries()) {
        await store.insertGroup(group(name, new Date(Date.parse(T0) + i * 1000).toISOString()));
      }
      const sortBy = resolvePath(GROUP_RESOURCE, parseAttrPath('displayName'), 'invalidValue');
      const page = await store.listGroups({ sortBy, descending: false, offset: 1, limit: 1 });
      expect(page.total).toBe(3);
      expect(page.rows.map((r) => r.displayName)).toEqual(['Beta']);
      const filtered = await store.listGroups({
        ...ALL,
        filter: groupFilter('displayName eq "GAMMA" or displayName sw "al"'),
      });
      expect(filtered.rows.map((r) => r.displayName).sort()).toEqual(['Gamma', 'alpha']);
    });
  });

  describe('groups and members', () => {
    it('inserts, gets and updates groups at the expected version', async () => {
      const store = await newStore();
      const g = {
        ...group('Team'),
        externalId: 'ext',
        data: { displayName: 'Team', 'urn:example:x': { k: 1 } },
      };
      await store.insertGroup(g);
      expect(await store.getGroup(g.id)).toEqual({ ...g, version: 1 });
      expect(await store.getGroup(g.id, { forUpdate: true })).toMatchObject({ version: 1 });
      expect(await store.getGroup(randomUUID())).toBeUndefined();
      const renamed = {
        ...g,
        displayName: 'Team 2',
        data: { displayName: 'Team 2' },
        updatedAt: T1,
        version: 2,
      };
      expect(await store.updateGroup(renamed, 1)).toBe(true);
      expect(await store.getGroup(g.id)).toMatchObject({
        displayName: 'Team 2',
        version: 2,
        updatedAt: T1,
        createdAt: T0,
      });
      expect(await store.updateGroup({ ...renamed, displayName: 'Team 3', version: 2 }, 1)).toBe(
        false,
      );
      expect(await store.getGroup(g.id)).toMatchObject({ displayName: 'Team 2' });
    });

    it('rejects a displayName that differs only in case, on insert and update (409 uniqueness)', async () => {
      const store = await newStore();
      await store.insertGroup(group('Ärger-Team'));
      expectUniqueness(await rejection(store.insertGroup(group('ÄRGER-team'))));
      const other = group('Other');
      await store.insertGroup(other);
      expectUniqueness(
        await rejection(store.updateGroup({ ...other, displayName: 'ärger-team', version: 2 }, 1)),
      );
      expect(await store.getGroup(other.id)).toMatchObject({ displayName: 'Other', version: 1 });
      await (await newStore('Elsewhere')).insertGroup(group('ärger-team'));
    });

    it('adds members idempotently, counting only new rows, and lists them with display names', async () => {
      const store = await newStore();
      const g = group('G');
      const sub = group('Sub-team');
      await store.insertGroup(g);
      await store.insertGroup(sub);
      const u1 = user({ userName: 'u1', displayName: 'User One', active: true });
      const u2 = user({ userName: 'u2', active: true });
      const u3 = user({ userName: 'u3', active: true });
      for (const u of [u1, u2, u3]) await store.insertUser(u);

      expect(
        await store.addMembers(
          g.id,
          [
            { id: u1.id, type: 'User' },
            { id: u2.id, type: 'User' },
          ],
          T0,
        ),
      ).toBe(2);
      expect(
        await store.addMembers(
          g.id,
          [
            { id: u2.id, type: 'User' },
            { id: u3.id, type: 'User' },
          ],
          T1,
        ),
      ).toBe(1);
      expect(await store.addMembers(g.id, [{ id: u1.id, type: 'User' }], T1)).toBe(0);
      expect(await store.addMembers(g.id, [], T1)).toBe(0);
      expect(await store.addMembers(g.id, [{ id: sub.id, type: 'Group' }], T1)).toBe(1);

      const members = (await store.members([g.id, sub.id])).get(g.id) ?? [];
      expect(members).toHaveLength(4);
      expect(new Map(members.map((m) => [m.value, m]))).toEqual(
        new Map([
          [u1.id, { value: u1.id, type: 'User', display: 'User One' }],
          [u2.id, { value: u2.id, type: 'User', display: 'u2' }],
          [u3.id, { value: u3.id, type: 'User', display: 'u3' }],
          [sub.id, { value: sub.id, type: 'Group', display: 'Sub-team' }],
        ]),
      );
      expect((await store.members([sub.id])).get(sub.id)).toBeUndefined();
      expect(await ids(store, `groups.value eq "${g.id}"`)).toEqual([u1.id, u2.id, u3.id].sort());
      const withMember = await store.listGroups({
        ...ALL,
        filter: groupFilter(`members.value eq "${u3.id}"`),
      });
      expect(withMember.rows.map((r) => r.id)).toEqual([g.id]);
      const withTeam = await store.listGroups({
        ...ALL,
        filter: groupFilter('members[type eq "group"]'),
      });
      expect(withTeam.rows.map((r) => r.id)).toEqual([g.id]);
    });

    it('countGroupChange counts a member change in the team version once committed', async () => {
      const store = await newStore();
      const g = group('counted');
      await store.insertGroup(g);
      const T2 = '2024-01-03T00:00:00.000Z';
      await store.transaction(async (tx) => {
        expect((await tx.openGroupChange(g.id, { lock: 'keyShare' })).row?.version).toBe(1);
        await tx.countGroupChange(g.id, T1);
        await tx.countGroupChange(g.id, T2);
      });
      expect(await store.getGroup(g.id)).toMatchObject({ version: 3, updatedAt: T2 });
      // Rolled back with its transaction (on PostgreSQL it was never sent).
      await expect(
        store.transaction(async (tx) => {
          await tx.countGroupChange(g.id, T2);
          throw new Error('abandoned');
        }),
      ).rejects.toThrow('abandoned');
      expect((await store.getGroup(g.id))?.version).toBe(3);
      // Another account's team, given its id: unchanged.
      const other = await newStore('Other');
      await other.transaction((tx) => tx.countGroupChange(g.id, T2));
      expect((await store.getGroup(g.id))?.version).toBe(3);
    });

    it('removes listed members, all members, and a member from every group', async () => {
      const store = await newStore();
      const [g1, g2] = [group('one'), group('two')];
      await store.insertGroup(g1);
      await store.insertGroup(g2);
      const us = [
        user({ userName: 'a', active: true }),
        user({ userName: 'b', active: true }),
        user({ userName: 'c', active: true }),
      ];
      for (const u of us) await store.insertUser(u);
      const all = us.map((u) => ({ id: u.id, type: 'User' as const }));
      await store.addMembers(g1.id, all, T0);
      await store.addMembers(g2.id, all, T0);
      const memberIds = async (id: string) =>
        ((await store.members([id])).get(id) ?? []).map((m) => m.value).sort();

      expect(await store.removeMembers(g1.id, [us[0]!.id, randomUUID(), us[0]!.id])).toBe(1);
      expect(await memberIds(g1.id)).toEqual([us[1]!.id, us[2]!.id].sort());
      expect(await store.removeMembers(g1.id, [us[0]!.id])).toBe(0);

      await store.removeFromAllGroups(us[1]!.id);
      expect(await memberIds(g1.id)).toEqual([us[2]!.id]);
      expect(await memberIds(g2.id)).toEqual([us[0]!.id, us[2]!.id].sort());

      expect(await store.removeAllMembers(g2.id)).toBe(2);
      expect(await memberIds(g2.id)).toEqual([]);
      expect(await store.removeAllMembers(g2.id)).toBe(0);
    });

    it('groupsOfUsers lists each user’s direct teams by name', async () => {
      const store = await newStore();
      const [b, a] = [group('Bravo'), group('alpha')];
      await store.insertGroup(b);
      await store.insertGroup(a);
      const u = user({ userName: 'u', active: true });
      const lonely = user({ userName: 'lonely', active: true });
      await store.insertUser(u);
      await store.insertUser(lonely);
      await store.addMembers(b.id, [{ id: u.id, type: 'User' }], T0);
      await store.addMembers(a.id, [{ id: u.id, type: 'User' }], T0);
      const teams = await store.groupsOfUsers([u.id, lonely.id]);
      expect(teams.get(u.id)).toEqual([
        { value: a.id, type: 'Group', display: 'alpha' },
        { value: b.id, type: 'Group', display: 'Bravo' },
      ]);
      expect(teams.has(lonely.id)).toBe(false);
    });

    it('resolveMemberIds tells users from groups and drops unknown ids', async () => {
      const store = await newStore();
      const g = group('g');
      const u = user({ userName: 'u', active: true });
      await store.insertGroup(g);
      await store.insertUser(u);
      const stranger = await newStore('Stranger');
      const theirs = user({ userName: 'theirs', active: true });
      await stranger.insertUser(theirs);
      const resolved = await store.resolveMemberIds([u.id, g.id, randomUUID(), theirs.id]);
      expect(Object.fromEntries(resolved)).toEqual({ [u.id]: 'User', [g.id]: 'Group' });
    });

    it('insertUserMembers inserts users only when every id is a user of the account', async () => {
      const store = await newStore();
      const [team, sub] = [group('team'), group('sub')];
      await store.insertGroup(team);
      await store.insertGroup(sub);
      const us = [0, 1, 2].map((i) => user({ userName: `m${i}`, active: true }));
      for (const u of us) await store.insertUser(u);
      const stranger = await newStore('Stranger');
      const theirs = user({ userName: 'theirs', active: true });
      await stranger.insertUser(theirs);
      const memberIds = async () =>
        ((await store.members([team.id])).get(team.id) ?? []).map((m) => m.value).sort();

      // Every id a user: inserted, reported in the order asked.
      const first = await store.insertUserMembers(team.id, [us[1]!.id, us[0]!.id], T0);
      expect(Object.fromEntries(first.known)).toEqual({ [us[0]!.id]: 'User', [us[1]!.id]: 'User' });
      expect(first.added).toEqual([
        { id: us[1]!.id, type: 'User' },
        { id: us[0]!.id, type: 'User' },
      ]);
      // A member already there is no insert.
      const again = await store.insertUserMembers(team.id, [us[0]!.id, us[2]!.id], T0);
      expect(again.added).toEqual([{ id: us[2]!.id, type: 'User' }]);
      expect(await memberIds()).toEqual(us.map((u) => u.id).sort());
      await store.removeAllMembers(team.id);

      // An unknown id, another account's user or a team among them: nothing inserted.
      for (const other of [randomUUID(), theirs.id, sub.id]) {
        const found = await store.insertUserMembers(team.id, [us[0]!.id, other], T0);
        expect(found.added).toBeUndefined();
        expect(found.known.get(us[0]!.id)).toBe('User');
        expect(found.known.get(other)).toBe(other === sub.id ? 'Group' : undefined);
        expect(await memberIds()).toEqual([]);
      }
      // Another account's team: no row under its id.
      const theirTeam = group('their team');
      await stranger.insertGroup(theirTeam);
      const foreign = await store.insertUserMembers(theirTeam.id, [us[0]!.id], T0);
      expect(foreign.added).toEqual([]);
      expect((await stranger.members([theirTeam.id])).get(theirTeam.id) ?? []).toEqual([]);
    });

    it('deleting a group removes its memberships both ways', async () => {
      const store = await newStore();
      const [parent, child] = [group('parent'), group('child')];
      await store.insertGroup(parent);
      await store.insertGroup(child);
      const u = user({ userName: 'u', active: true });
      await store.insertUser(u);
      await store.addMembers(child.id, [{ id: u.id, type: 'User' }], T0);
      await store.addMembers(parent.id, [{ id: child.id, type: 'Group' }], T0);
      expect(await store.deleteGroup(child.id)).toBe(true);
      expect(await store.getGroup(child.id)).toBeUndefined();
      expect((await store.members([parent.id])).get(parent.id)).toBeUndefined();
      expect((await store.groupsOfUsers([u.id])).get(u.id)).toBeUndefined();
      expect(await store.deleteGroup(child.id)).toBe(false);
    });
  });

  describe('transactions', () => {
    it('commits everything the work did', async () => {
      const store = await newStore();
      const u = user({ userName: 'kept', active: true });
      const g = group('kept');
      const result = await store.transaction(async (tx) => {
        await tx.insertUser(u);
        await tx.insertGroup(g);
        await tx.addMembers(g.id, [{ id: u.id, type: 'User' }], T0);
        // Nested transactions join the outer one.
        await tx.transaction((inner) => inner.updateGroup({ ...g, updatedAt: T1, version: 2 }, 1));
        return 'done';
      });
      expect(result).toBe('done');
      expect(await store.getUser(u.id)).toBeDefined();
      expect(await store.getGroup(g.id)).toMatchObject({ version: 2 });
      expect((await store.members([g.id])).get(g.id)).toHaveLength(1);
    });

    it('openUserChange and openGroupChange read the account and the resource as readAccount and getUser / getGroup do', async () => {
      const store = await newStore();
      const other = await newStore('Other');
      const u = user({ userName: 'opened', active: true });
      const g = group('opened');
      const theirs = user({ userName: 'theirs', active: true });
      await store.insertUser(u);
      await store.insertGroup(g);
      await store.addMembers(g.id, [{ id: u.id, type: 'User' }], T0);
      await other.insertUser(theirs);
      const account = { seats: null, settings: { departmentTeams: false, managerTeams: false } };
      await store.transaction(async (tx) => {
        const opened = await tx.openUserChange(u.id, { lock: 'noKeyUpdate', related: true });
        expect(opened.account).toEqual(account);
        expect(opened.row).toEqual(await tx.getUser(u.id, { related: true }));
        expect(opened.row).toMatchObject({ userName: 'opened', groups: [{ value: g.id }] });
      });
      await store.transaction(async (tx) => {
        expect(await tx.openUserChange(randomUUID(), { forUpdate: true })).toEqual({
          account,
          row: undefined,
        });
      });
      // Another account's user, given its id: not found.
      await store.transaction(async (tx) => {
        expect((await tx.openUserChange(theirs.id, { forUpdate: true })).row).toBeUndefined();
      });
      for (const options of [{ forUpdate: true }, { lock: 'keyShare' as const }, {}]) {
        await store.transaction(async (tx) => {
          const opened = await tx.openGroupChange(g.id, options);
          expect(opened.account).toEqual(account);
          expect(opened.row).toEqual(await tx.getGroup(g.id));
          expect(opened.row).toMatchObject({ displayName: 'opened', version: 1 });
          expect((await tx.openGroupChange(randomUUID(), options)).row).toBeUndefined();
        });
      }
      await database.db
        .updateTable('accounts')
        .set({ seats: 5 })
        .where('id', '=', store.accountId)
        .execute();
      await store.transaction(async (tx) => {
        expect((await tx.openUserChange(u.id)).account.seats).toBe(5);
      });
    });

    it('openGroupChange with a member change ahead: made as announced it commits; not made, or another first, nothing does', async () => {
      const store = await newStore();
      const u = user({ userName: 'ahead', active: true });
      const g = group('ahead');
      await store.insertUser(u);
      await store.insertGroup(g);
      // A first write teaches the store that the account maps no teams: on PostgreSQL the
      // announced change then runs with the opening read.
      await store.transaction((tx) => tx.openGroupChange(g.id, { lock: 'keyShare' }));
      const members = async () =>
        (await store.members([g.id])).get(g.id)?.map((m) => m.value) ?? [];
      const add = { kind: 'add', ids: [u.id], at: T1 } as const;

      // Announced and made: the same answer as without, committed.
      const made = await store.transaction(async (tx) => {
        const opened = await tx.openGroupChange(g.id, { lock: 'keyShare' }, add);
        expect(opened.row).toMatchObject({ displayName: 'ahead' });
        return tx.insertUserMembers(g.id, [u.id], T1);
      });
      expect(made).toEqual({
        known: new Map([[u.id, 'User']]),
        added: [{ id: u.id, type: 'User' }],
      });
      expect(await members()).toEqual([u.id]);

      // Announced, not made: the transaction fails and nothing of it stays.
      const remove = { kind: 'remove', ids: [u.id] } as const;
      const notMade = await rejection(
        store.transaction((tx) => tx.openGroupChange(g.id, { lock: 'keyShare' }, remove)),
      );
      expect(String(notMade)).toMatch(/announced to openGroupChange was not made/);
      expect(await members()).toEqual([u.id]);

      // Another change of the team first: refused, nothing stays.
      const other = await rejection(
        store.transaction(async (tx) => {
          await tx.openGroupChange(g.id, { lock: 'keyShare' }, remove);
          await tx.deleteMembers(g.id);
        }),
      );
      expect(String(other)).toMatch(/other than the one announced/);
      expect(await members()).toEqual([u.id]);

      // Run ahead (on PostgreSQL, written with the read), then the caller turns back (a
      // refused patch) by throwing: the membership written ahead is rolled back.
      const later = user({ userName: 'ahead-later', active: true });
      await store.insertUser(later);
      await expect(
        store.transaction(async (tx) => {
          await tx.openGroupChange(g.id, { lock: 'keyShare' }, { ...add, ids: [later.id] });
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      expect(await members()).toEqual([u.id]);

      // A caller that turns back (a 404, a refused patch) throws: nothing stays either.
      const missing = randomUUID();
      await expect(
        store.transaction(async (tx) => {
          const opened = await tx.openGroupChange(
            missing,
            { lock: 'keyShare' },
            { ...add, ids: [u.id] },
          );
          if (opened.row === undefined) throw new Error('not found');
        }),
      ).rejects.toThrow('not found');
      expect((await store.members([missing])).get(missing)).toBeUndefined();

      // Announced remove, made: the rows deleted, in the order asked.
      const removed = await store.transaction(async (tx) => {
        await tx.openGroupChange(g.id, { lock: 'keyShare' }, remove);
        return tx.deleteMembers(g.id, [u.id, u.id]);
      });
      expect(removed).toEqual([{ id: u.id, type: 'User' }]);
      expect(await members()).toEqual([]);
    });

    it('a write of an account that maps teams reads and locks the account before the resource', async () => {
      const store = await newStore();
      const u = user({ userName: 'mapped', active: true });
      await store.insertUser(u);
      // Not read since it began to map teams: this process last saw it not mapping them.
      await store.transaction((tx) => tx.workspace.readAccount());
      await database.db
        .updateTable('accounts')
        .set({ settings: JSON.stringify({ departmentTeams: true, managerTeams: false }) })
        .where('id', '=', store.accountId)
        .execute();
      const runs = async () => {
        let count = 0;
        const opened = await store.transaction(async (tx) => {
          count++;
          return tx.openUserChange(u.id, { lock: 'noKeyUpdate', related: true });
        });
        expect(opened.account.settings.departmentTeams).toBe(true);
        expect(opened.row).toMatchObject({ userName: 'mapped' });
        return count;
      };
      // PostgreSQL: read together with the user, found mapping, run again account first
      // (which is then remembered); SQLite has one writer and reads them one by one.
      expect(await runs()).toBe(kind === 'postgres' ? 2 : 1);
      expect(await runs()).toBe(1);
    });

    it('a read outside the transaction never sees its uncommitted writes', async () => {
      const store = await newStore();
      const u = user({ userName: 'Uncommitted', active: true });
      let inserted!: () => void;
      const insertedSignal = new Promise<void>((resolve) => (inserted = resolve));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const work = store.transaction(async (tx) => {
        await tx.insertUser(u);
        inserted();
        await gate;
        throw new Error('rolled back');
      });
      await insertedSignal;
      // Issued while the transaction is open (on SQLite it holds the one connection).
      const reads = Promise.all([
        store.getUser(u.id),
        store.getUser(u.id, { related: true }),
        store.listUsers({ ...ALL, filter: userFilter('userName eq "uncommitted"'), related: true }),
      ]);
      release();
      await expect(work).rejects.toThrow('rolled back');
      const [plain, related, page] = await reads;
      expect(plain).toBeUndefined();
      expect(related).toBeUndefined();
      expect(page).toEqual({ total: 0, rows: [] });
      expect(await store.getUser(u.id)).toBeUndefined();
    });

    it('rolls back everything when the work throws, and rethrows', async () => {
      const store = await newStore();
      const existing = user({ userName: 'existing', active: true, title: 'before' });
      const g = group('existing');
      await store.insertUser(existing);
      await store.insertGroup(g);
      const added = user({ userName: 'added', active: true, emails: [{ value: 'added@x.com' }] });
      const failure = new Error('boom');
      const error = await rejection(
        store.transaction(async (tx) => {
          await tx.insertUser(added);
          await tx.updateUser(
            { ...existing, data: { userName: 'existing', title: 'after' }, version: 2 },
            1,
          );
          await tx.addMembers(g.id, [{ id: existing.id, type: 'User' }], T0);
          await tx.updateGroup({ ...g, displayName: 'renamed', updatedAt: T1, version: 2 }, 1);
          throw failure;
        }),
      );
      expect(error).toBe(failure);
      expect(await store.getUser(added.id)).toBeUndefined();
      expect(await emailRows(added.id)).toEqual([]);
      expect(await store.getUser(existing.id)).toMatchObject({
        version: 1,
        data: { title: 'before' },
      });
      expect(await store.getGroup(g.id)).toMatchObject({ version: 1 });
      expect((await store.members([g.id])).get(g.id)).toBeUndefined();
    });

    it('rolls back when a uniqueness conflict ends the work', async () => {
      const store = await newStore();
      await store.insertUser(user({ userName: 'taken', active: true }));
      const first = user({ userName: 'first', active: true });
      const error = await rejection(
        store.transaction(async (tx) => {
          await tx.insertUser(first);
          await tx.insertUser(user({ userName: 'TAKEN', active: true }));
        }),
      );
      expectUniqueness(error);
      expect(await store.getUser(first.id)).toBeUndefined();
    });
  });

  describe('account isolation', () => {
    it("never sees or changes another account's rows, even given their ids", async () => {
      const mine = await newStore('Mine');
      const theirs = await newStore('Theirs');
      const u = user({
        userName: 'shared',
        displayName: 'Mine',
        active: true,
        emails: [{ value: 'shared@x.com', type: 'work' }],
      });
      const g = group('shared');
      await mine.insertUser(u);
      await mine.insertGroup(g);
      await mine.addMembers(g.id, [{ id: u.id, type: 'User' }], T0);
      const later = user({ userName: 'later', active: true });
      await mine.insertUser(later);
      // The other account has look-alikes: same userName, same team name.
      const twin = user({
        userName: 'SHARED',
        active: true,
        emails: [{ value: 'shared@x.com', type: 'work' }],
      });
      await theirs.insertUser(twin);
      await theirs.insertGroup(group('Shared'));

      // Reads.
      expect(await theirs.getUser(u.id)).toBeUndefined();
      expect(await theirs.getGroup(g.id)).toBeUndefined();
      for (const text of [
        `id eq "${u.id}"`,
        'userName eq "shared"',
        'emails.value eq "shared@x.com"',
        `groups.value eq "${g.id}"`,
      ]) {
        const rows = (await theirs.listUsers({ ...ALL, filter: userFilter(text) })).rows.map(
          (r) => r.id,
        );
        expect(rows.includes(u.id), text).toBe(false);
      }
      expect((await theirs.listUsers(ALL)).rows.map((r) => r.id)).toEqual([twin.id]);
      expect(
        (
          await theirs.listGroups({
            ...ALL,
            filter: groupFilter(`id eq "${g.id}" or members.value eq "${u.id}"`),
          })
        ).total,
      ).toBe(0);
      expect((await theirs.members([g.id])).size).toBe(0);
      expect((await theirs.groupsOfUsers([u.id])).size).toBe(0);
      expect((await theirs.userNames([u.id])).size).toBe(0);
      expect((await theirs.resolveMemberIds([u.id, g.id])).size).toBe(0);

      // Writes.
      expect(
        await theirs.updateUser(
          { ...u, data: { userName: 'hijacked' }, userName: 'hijacked', version: 2 },
          1,
        ),
      ).toBe(false);
      expect(await theirs.updateGroup({ ...g, displayName: 'hijacked', version: 2 }, 1)).toBe(
        false,
      );
      expect(
        await theirs.addMembers(
          g.id,
          [
            { id: twin.id, type: 'User' },
            { id: later.id, type: 'User' },
          ],
          T1,
        ),
      ).toBe(0);
      expect(await theirs.removeMembers(g.id, [u.id])).toBe(0);
      expect(await theirs.removeAllMembers(g.id)).toBe(0);
      await theirs.removeFromAllGroups(u.id);
      expect(await theirs.deleteUser(u.id)).toBe(false);
      expect(await theirs.deleteGroup(g.id)).toBe(false);

      // Nothing of mine changed.
      expect(await mine.getUser(u.id)).toMatchObject({ userName: 'shared', version: 1 });
      expect(await mine.getGroup(g.id)).toMatchObject({
        displayName: 'shared',
        version: 1,
        updatedAt: T0,
      });
      expect(((await mine.members([g.id])).get(g.id) ?? []).map((m) => m.value)).toEqual([u.id]);
      expect(await emailRows(u.id)).toEqual([
        { value: 'shared@x.com', type: 'work', primary: false },
      ]);
      expect(await ids(mine, 'emails.value eq "shared@x.com"')).toEqual([u.id]);
      // Adding to my team is not blocked by rows the other account's store tried to add.
      expect(await mine.addMembers(g.id, [{ id: later.id, type: 'User' }], T1)).toBe(1);
    });
  });
});
