import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAccount,
  createAdmin,
  deactivateAdmin,
  getAccountPolicy,
  listAdmins,
  reactivateAdmin,
  updateAccountPolicy,
  verifyPassword,
} from '../../src/app/accounts.js';
import { inviteAdmin } from '../../src/app/console/admins.js';
import { refusedTokenOf } from '../../src/app/console/known-token.js';
import {
  authenticateConsole,
  consoleLogin,
  consoleSignIn,
  consoleSignOut,
} from '../../src/app/console/sessions.js';
import { AppError } from '../../src/app/errors.js';
import { authenticateSession, signIn, signOut } from '../../src/app/sessions.js';
import type { AccountStores, Stores } from '../../src/app/stores.js';
import { authenticate, issueToken, listTokens, revokeToken } from '../../src/app/tokens.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { migrateToLatest } from '../../src/storage/migrations/index.js';
import { createStores } from '../../src/storage/stores.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';
import { TENANT_ADMIN_PASSWORD as PASSWORD } from '../helpers/server.js';

/** The rejection of `promise` as an AppError (fails the test if it resolves or throws another). */
async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/**
 * Stores whose per-account store calls are counted, to check how many reads and writes
 * a use case makes (`calls` lists `domain.method` in order).
 */
function counting(stores: Stores): { stores: Stores; calls: string[] } {
  const calls: string[] = [];
  const wrap = <T extends object>(domain: string, target: T): T =>
    new Proxy(target, {
      get(object, name, receiver) {
        const value: unknown = Reflect.get(object, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${domain}.${String(name)}`);
          return (value as (...a: unknown[]) => unknown).apply(object, args);
        };
      },
    });
  // Every store of every domain, each method call counted by domain and name.
  const counting = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, name) {
        const value: unknown = Reflect.get(object, name);
        return typeof value === 'object' && value !== null ? wrap(String(name), value) : value;
      },
    });
  const counted: Stores = new Proxy(stores, {
    get(object, name) {
      if (name === 'forAccount')
        return (accountId: string): AccountStores => counting(object.forAccount(accountId));
      const value: unknown = Reflect.get(object, name);
      return typeof value === 'object' && value !== null ? wrap(String(name), value) : value;
    },
  });
  return { stores: counted, calls };
}

/**
 * The platform use cases (accounts, admins, tokens, sessions) against the real stores
 * on both databases, without HTTP: the rules the CLI and the admin API share.
 */
describe.each(DATABASE_KINDS)('platform use cases on the stores (%s)', (kind) => {
  let testDb: TestDatabase;
  let database: RosterDatabase;
  let stores: Stores;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    database = await openDatabase(testDb.url);
    await migrateToLatest(database.db);
    stores = createStores(database);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  let counter = 0;
  async function accountWithAdmins(...emails: string[]) {
    const account = await createAccount(stores, { name: `Acme ${++counter}` });
    const admins = [];
    for (const email of emails)
      admins.push(await createAdmin(stores, { accountId: account.id, email, password: PASSWORD }));
    return { account, admins };
  }

  it('keeps the last active admin, and serialises two admins deactivating each other', async () => {
    const { account, admins } = await accountWithAdmins('a@x.example', 'b@x.example');
    const [a, b] = admins as [(typeof admins)[0], (typeof admins)[0]];
    expect((await deactivateAdmin(stores, { accountId: account.id, adminId: b.id })).active).toBe(
      false,
    );
    const last = await refusal(deactivateAdmin(stores, { accountId: account.id, adminId: a.id }));
    expect(last.kind).toBe('conflict');
    expect(last.code).toBe('last_admin');
    expect(last.message).toContain('last active admin');
    // No change either way: a deactivated admin stays deactivated, an active one active.
    expect(
      (await deactivateAdmin(stores, { accountId: account.id, email: 'B@x.example' })).active,
    ).toBe(false);
    expect((await reactivateAdmin(stores, { accountId: account.id, adminId: a.id })).active).toBe(
      true,
    );
    expect((await reactivateAdmin(stores, { accountId: account.id, adminId: b.id })).active).toBe(
      true,
    );

    const race = await Promise.allSettled([
      deactivateAdmin(stores, { accountId: account.id, adminId: a.id }),
      deactivateAdmin(stores, { accountId: account.id, adminId: b.id }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((await listAdmins(stores, account.id)).filter((x) => x.active)).toHaveLength(1);

    expect(
      (await refusal(deactivateAdmin(stores, { accountId: account.id, adminId: 'nobody' }))).kind,
    ).toBe('not_found');
    expect(
      (await refusal(reactivateAdmin(stores, { accountId: 'no-such-account', adminId: a.id })))
        .message,
    ).toBe('account no-such-account does not exist');
  });

  it('creates an admin once: an active or deactivated duplicate is a conflict that says what to do', async () => {
    const { account, admins } = await accountWithAdmins('one@x.example', 'two@x.example');
    const active = await refusal(
      createAdmin(stores, { accountId: account.id, email: ' ONE@x.example', password: PASSWORD }),
    );
    expect(active.kind).toBe('conflict');
    expect(active.message).toContain('one@x.example is already an active admin');

    await deactivateAdmin(stores, { accountId: account.id, adminId: admins[1]!.id });
    // The console's invitation goes through the same rule.
    const deactivated = await refusal(inviteAdmin(stores, account.id, 'Two@X.example'));
    expect(deactivated.kind).toBe('conflict');
    expect(deactivated.message).toContain(
      `two@x.example is a deactivated admin of account ${account.id}: reactivate them with roster admin reactivate --account ${account.id} --email two@x.example`,
    );

    // Two creations of one new e-mail at once: one admin, one conflict (the unique key).
    const race = await Promise.allSettled([
      createAdmin(stores, { accountId: account.id, email: 'new@x.example', password: PASSWORD }),
      createAdmin(stores, { accountId: account.id, email: 'NEW@x.example', password: PASSWORD }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as AppError).kind).toBe('conflict');
    expect(
      (await listAdmins(stores, account.id)).filter(
        (a) => a.email.toLowerCase() === 'new@x.example',
      ),
    ).toHaveLength(1);

    expect(
      (
        await refusal(
          createAdmin(stores, { accountId: 'missing', email: 'a@x.example', password: PASSWORD }),
        )
      ).kind,
    ).toBe('not_found');
    const invited = await inviteAdmin(stores, account.id, 'invited@x.example');
    expect(
      await verifyPassword(stores, {
        accountId: account.id,
        email: 'invited@x.example',
        password: invited.password,
      }),
    ).toEqual(invited.admin);
  });

  it('issues a token by the named admin in one read and one write; a deactivated issuer is refused', async () => {
    const { account, admins } = await accountWithAdmins('first@x.example', 'second@x.example');
    const [first, second] = admins as [(typeof admins)[0], (typeof admins)[0]];
    const counted = counting(stores);
    const byId = await issueToken(counted.stores, {
      accountId: account.id,
      type: 'api',
      name: 'by id',
      adminId: second.id,
    });
    expect(counted.calls).toEqual(['admins.get', 'tokens.insert']);
    counted.calls.length = 0;
    const byDefault = await issueToken(counted.stores, {
      accountId: account.id,
      type: 'scim',
      name: 'default',
    });
    expect(counted.calls).toEqual(['admins.firstActive', 'tokens.insert']);
    const byEmail = await issueToken(stores, {
      accountId: account.id,
      type: 'scim',
      name: 'by email',
      adminEmail: 'SECOND@x.example',
    });
    const issuers = new Map((await listTokens(stores, account.id)).map((t) => [t.id, t.adminId]));
    expect(issuers.get(byId.id)).toBe(second.id);
    expect(issuers.get(byDefault.id)).toBe(first.id);
    expect(issuers.get(byEmail.id)).toBe(second.id);

    await deactivateAdmin(stores, { accountId: account.id, adminId: second.id });
    const refused = await refusal(
      issueToken(stores, { accountId: account.id, type: 'api', name: 'x', adminId: second.id }),
    );
    expect(refused.kind).toBe('invalid');
    expect(refused.message).toContain('is deactivated');
    expect(
      (
        await refusal(
          issueToken(stores, {
            accountId: account.id,
            type: 'api',
            name: 'x',
            adminEmail: 'nobody@x.example',
          }),
        )
      ).kind,
    ).toBe('not_found');
    expect(
      (
        await refusal(
          issueToken(stores, { accountId: 'missing', type: 'api', name: 'x', adminId: first.id }),
        )
      ).message,
    ).toBe('account missing does not exist');
    // Another account's admin cannot issue tokens here.
    const other = await accountWithAdmins('other@x.example');
    expect(
      (
        await refusal(
          issueToken(stores, {
            accountId: account.id,
            type: 'api',
            name: 'x',
            adminId: other.admins[0]!.id,
          }),
        )
      ).kind,
    ).toBe('not_found');
  });

  it('authenticates a token only on its account, type and active issuer; revocation keeps its first time', async () => {
    const { account, admins } = await accountWithAdmins('p@x.example', 'q@x.example');
    const other = await accountWithAdmins('r@x.example');
    const issued = await issueToken(stores, {
      accountId: account.id,
      type: 'scim',
      name: 'entra',
      adminId: admins[1]!.id,
    });
    expect(await authenticate(stores, issued.token, account.id, 'scim')).toEqual({
      tokenId: issued.id,
      adminId: admins[1]!.id,
    });
    expect(await authenticate(stores, issued.token, account.id, 'api')).toBeNull();
    expect(await authenticate(stores, issued.token, other.account.id, 'scim')).toBeNull();
    expect((await listTokens(stores, account.id))[0]!.lastUsedAt).not.toBeNull();

    await deactivateAdmin(stores, { accountId: account.id, adminId: admins[1]!.id });
    expect(await authenticate(stores, issued.token, account.id, 'scim')).toBeNull();
    expect((await listTokens(stores, account.id))[0]!.status).toBe('inactive');
    // Refused, but known: the provisioning log can name it.
    expect(await refusedTokenOf(stores, issued.token, account.id)).toBe(issued.id);
    expect(await refusedTokenOf(stores, issued.token, other.account.id)).toBeNull();
    await reactivateAdmin(stores, { accountId: account.id, adminId: admins[1]!.id });
    expect(await authenticate(stores, issued.token, account.id, 'scim')).not.toBeNull();

    // Another account cannot revoke it, or even see it.
    expect((await refusal(revokeToken(stores, other.account.id, issued.id))).kind).toBe(
      'not_found',
    );
    expect(await authenticate(stores, issued.token, account.id, 'scim')).not.toBeNull();
    const revoked = await revokeToken(stores, account.id, issued.id);
    expect(revoked.status).toBe('revoked');
    expect(await authenticate(stores, issued.token, account.id, 'scim')).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await revokeToken(stores, account.id, issued.id)).revokedAt).toBe(revoked.revokedAt);
    expect((await refusal(revokeToken(stores, account.id, 'no-such-token'))).kind).toBe(
      'not_found',
    );
    expect((await refusal(revokeToken(stores, 'missing', issued.id))).message).toBe(
      'account missing does not exist',
    );
  });

  it('signs admins in per account (bearer) and across accounts (console), and out again', async () => {
    const { account, admins } = await accountWithAdmins('s@x.example', 't@x.example');
    const second = await accountWithAdmins('S@X.example');
    const session = await signIn(stores, {
      accountId: account.id,
      email: ' S@x.example',
      password: PASSWORD,
    });
    expect(session).not.toBeNull();
    expect(
      await signIn(stores, { accountId: account.id, email: 's@x.example', password: 'wrong' }),
    ).toBeNull();
    expect(await authenticateSession(stores, session!.token, account.id)).toEqual({
      sessionId: session!.sessionId,
      adminId: admins[0]!.id,
      accountId: account.id,
    });
    expect(await authenticateSession(stores, session!.token, second.account.id)).toBeNull();

    const login = await consoleSignIn(stores, { email: 's@x.example', password: PASSWORD });
    expect(login!.accounts.map((a) => a.accountId).sort()).toEqual(
      [account.id, second.account.id].sort(),
    );
    expect((await authenticateConsole(stores, login!.secret, second.account.id))?.adminId).toBe(
      second.admins[0]!.id,
    );

    // Deactivation ends both kinds of session for that account at once.
    await deactivateAdmin(stores, { accountId: account.id, adminId: admins[0]!.id });
    expect(await authenticateSession(stores, session!.token, account.id)).toBeNull();
    expect(await authenticateConsole(stores, login!.secret, account.id)).toBeNull();
    expect((await consoleLogin(stores, login!.secret))?.accounts.map((a) => a.accountId)).toEqual([
      second.account.id,
    ]);
    await reactivateAdmin(stores, { accountId: account.id, adminId: admins[0]!.id });
    expect(await authenticateSession(stores, session!.token, account.id)).not.toBeNull();

    await signOut(stores, session!);
    expect(await authenticateSession(stores, session!.token, account.id)).toBeNull();
    await consoleSignOut(stores, login!.loginId);
    expect(await consoleLogin(stores, login!.secret)).toBeNull();
  });

  it('keeps seats and team mapping per account', async () => {
    const { account } = await accountWithAdmins('u@x.example');
    const other = await accountWithAdmins('v@x.example');
    expect(await updateAccountPolicy(stores, account.id, { seats: 3 })).toMatchObject({
      seats: 3,
      activeUsers: 0,
    });
    const changed = await updateAccountPolicy(stores, account.id, {
      settings: { departmentTeams: true },
    });
    expect(changed.seats).toBe(3);
    expect(changed.settings.departmentTeams).toBe(true);
    expect((await getAccountPolicy(stores, other.account.id)).seats).toBeNull();
    expect((await refusal(updateAccountPolicy(stores, account.id, { seats: -1 }))).kind).toBe(
      'invalid',
    );
    expect((await refusal(getAccountPolicy(stores, 'missing'))).kind).toBe('not_found');
  });
});
