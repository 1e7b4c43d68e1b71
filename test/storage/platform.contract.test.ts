import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAccount,
  createAdmin,
  deactivateAdmin,
  getAccount,
  listAccounts,
  listAdmins,
  tenantUrl,
  verifyPassword,
} from '../../src/app/accounts.js';
import { AppError } from '../../src/app/errors.js';
import {
  authenticate,
  hashSecret,
  issueToken,
  listTokens,
  revokeToken,
} from '../../src/app/tokens.js';
import { isUniqueViolation, openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import {
  migrateToLatest,
  migrationProvider,
  migrations,
} from '../../src/storage/migrations/index.js';
import { Migrator } from 'kysely';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';
import { createStores } from '../../src/storage/stores.js';

describe.each(DATABASE_KINDS)('platform storage contract (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  async function accountWithAdmin(email = 'owner@example.com') {
    const account = await createAccount(createStores(database), { name: 'Acme' });
    const admin = await createAdmin(createStores(database), {
      accountId: account.id,
      email,
      password: 'correct horse battery',
    });
    return { account, admin };
  }

  it('reports its dialect', () => {
    expect(database.dialect).toBe(kind);
  });

  it('migrates idempotently', async () => {
    const applied = async (db: RosterDatabase['db']) =>
      (await new Migrator({ db, provider: migrationProvider }).getMigrations()).map((m) => [
        m.name,
        m.executedAt !== undefined,
      ]);
    const before = await applied(database.db);
    expect(before).toEqual(
      Object.keys(migrations)
        .sort()
        .map((name) => [name, true]),
    );
    await migrateToLatest(database.db);
    await migrateToLatest(database.db);
    const again = await openDatabase(testDb.url);
    try {
      await migrateToLatest(again.db);
      // Every migration stays applied once; none ran anew.
      expect(await applied(again.db)).toEqual(before);
    } finally {
      await again.close();
    }
  });

  it('has scim_lower, Unicode-correct and null-preserving (a connection function on SQLite, SQL on PostgreSQL)', async () => {
    const { sql } = await import('kysely');
    const result = await sql<{
      a: string;
      b: null;
      c: string;
    }>`select scim_lower('ÄBC') as a, scim_lower(null) as b, scim_lower('ΣΊΣΥΦΟΣ') as c`.execute(
      database.db,
    );
    expect(result.rows[0]).toEqual({ a: 'äbc', b: null, c: 'ΣΊΣΥΦΟΣ'.toLowerCase() });
  });

  it('creates, gets and lists accounts', async () => {
    const account = await createAccount(createStores(database), { name: ' Globex ', region: 'us' });
    expect(account).toMatchObject({ name: 'Globex', region: 'us' });
    expect(account.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await getAccount(createStores(database), account.id)).toEqual(account);
    expect(await getAccount(createStores(database), 'nope')).toBeNull();
    expect((await listAccounts(createStores(database))).map((a) => a.id)).toContain(account.id);
    expect(tenantUrl('https://app.example.com', account.id)).toBe(
      `https://app.example.com/api/v1/scim/azure/${account.id}`,
    );
    await expect(createAccount(createStores(database), { name: '  ' })).rejects.toThrow(AppError);
  });

  it('creates admins, hashes passwords and refuses duplicates and unknown accounts', async () => {
    const { account, admin } = await accountWithAdmin('Owner@Example.com');
    await expect(
      createAdmin(createStores(database), {
        accountId: account.id,
        email: 'owner@example.COM',
        password: 'x'.repeat(12),
      }),
    ).rejects.toThrow(/is already an active admin of account/);
    await expect(
      createAdmin(createStores(database), {
        accountId: 'missing',
        email: 'a@b.c',
        password: 'x'.repeat(12),
      }),
    ).rejects.toThrow(/account missing does not exist/);

    const row = await database.db
      .selectFrom('admins')
      .selectAll()
      .where('id', '=', admin.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(row.password_hash).not.toContain('correct horse');

    const creds = {
      accountId: account.id,
      email: 'owner@example.com',
      password: 'correct horse battery',
    };
    expect(await verifyPassword(createStores(database), creds)).toMatchObject({ id: admin.id });
    expect(
      await verifyPassword(createStores(database), { ...creds, password: 'wrong password' }),
    ).toBeNull();
    expect(await listAdmins(createStores(database), account.id)).toEqual([admin]);

    // The last active admin stays; with a second one, the first can go.
    await expect(
      deactivateAdmin(createStores(database), { accountId: account.id, adminId: admin.id }),
    ).rejects.toThrow(/last active admin/);
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'deputy@example.com',
      password: 'correct horse battery',
    });
    await deactivateAdmin(createStores(database), { accountId: account.id, adminId: admin.id });
    expect(await verifyPassword(createStores(database), creds)).toBeNull();
    expect((await listAdmins(createStores(database), account.id))[0]?.active).toBe(false);
  });

  it('refuses to issue a token for an account without an admin', async () => {
    const account = await createAccount(createStores(database), { name: 'Empty' });
    await expect(
      issueToken(createStores(database), { accountId: account.id, type: 'scim', name: 'Entra' }),
    ).rejects.toThrow(
      `account ${account.id} has no admin: create one with \`roster admin create\``,
    );
  });

  it('issues, authenticates and revokes a token', async () => {
    const { account, admin } = await accountWithAdmin();
    const issued = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra ID',
    });
    expect(issued.token).toMatch(/^rst_[A-Za-z0-9_-]{43}$/);
    expect(issued).toMatchObject({ name: 'Entra ID', type: 'scim' });

    expect(await authenticate(createStores(database), issued.token, account.id, 'scim')).toEqual({
      tokenId: issued.id,
      adminId: admin.id,
    });
    expect(
      await authenticate(createStores(database), issued.token + 'x', account.id, 'scim'),
    ).toBeNull();
    expect(
      await authenticate(createStores(database), 'rst_unknown', account.id, 'scim'),
    ).toBeNull();

    const revoked = await revokeToken(createStores(database), account.id, issued.id);
    expect(revoked.revokedAt).not.toBeNull();
    expect(await authenticate(createStores(database), issued.token, account.id, 'scim')).toBeNull();
    const again = await revokeToken(createStores(database), account.id, issued.id);
    expect(again.revokedAt).toBe(revoked.revokedAt);
    await expect(revokeToken(createStores(database), account.id, 'no-such-token')).rejects.toThrow(
      /has no token/,
    );
  });

  it('issues on behalf of a named admin, or the first active one', async () => {
    const { account, admin: first } = await accountWithAdmin();
    const second = await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'second@example.com',
      password: 'another password',
    });
    const byDefault = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'api',
      name: 'a',
    });
    const bySecond = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'api',
      name: 'b',
      adminEmail: 'SECOND@example.com',
    });
    expect(
      (await authenticate(createStores(database), byDefault.token, account.id, 'api'))?.adminId,
    ).toBe(first.id);
    expect(
      (await authenticate(createStores(database), bySecond.token, account.id, 'api'))?.adminId,
    ).toBe(second.id);
    await expect(
      issueToken(createStores(database), {
        accountId: account.id,
        type: 'api',
        name: 'c',
        adminEmail: 'who@x.y',
      }),
    ).rejects.toThrow(/has no admin who@x.y/);
  });

  it('rejects a token on another account, with the wrong type, or from a deactivated admin', async () => {
    const { account, admin } = await accountWithAdmin();
    const other = await accountWithAdmin();
    const issued = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Okta',
    });

    expect(
      await authenticate(createStores(database), issued.token, other.account.id, 'scim'),
    ).toBeNull();
    expect(await authenticate(createStores(database), issued.token, account.id, 'api')).toBeNull();
    expect(
      await authenticate(createStores(database), issued.token, account.id, 'scim'),
    ).not.toBeNull();

    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'deputy@example.com',
      password: 'correct horse battery',
    });
    await deactivateAdmin(createStores(database), { accountId: account.id, email: admin.email });
    expect(await authenticate(createStores(database), issued.token, account.id, 'scim')).toBeNull();
    await expect(
      issueToken(createStores(database), {
        accountId: account.id,
        type: 'scim',
        name: 'again',
        adminEmail: admin.email,
      }),
    ).rejects.toThrow(/is deactivated/);
  });

  it('never stores the secret, only its SHA-256', async () => {
    const { account } = await accountWithAdmin();
    const issued = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra',
    });
    const randomPart = issued.token.slice('rst_'.length);
    for (const table of ['accounts', 'admins', 'tokens'] as const) {
      const rows = await database.db.selectFrom(table).selectAll().execute();
      for (const row of rows) {
        for (const value of Object.values(row)) {
          if (typeof value === 'string') expect(value).not.toContain(randomPart);
        }
      }
    }
    const row = await database.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', issued.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_hash).toBe(hashSecret(issued.token));
    expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    const listed = await listTokens(createStores(database), account.id);
    expect(JSON.stringify(listed)).not.toContain(randomPart);
  });

  it('records last use, at most once a minute', async () => {
    const { account } = await accountWithAdmin();
    const issued = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'Entra',
    });
    expect((await listTokens(createStores(database), account.id))[0]?.lastUsedAt).toBeNull();

    await authenticate(createStores(database), issued.token, account.id, 'scim');
    const first = (await listTokens(createStores(database), account.id))[0];
    expect(first).toMatchObject({
      id: issued.id,
      revokedAt: null,
      adminEmail: 'owner@example.com',
    });
    expect(first?.lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    await new Promise((resolve) => setTimeout(resolve, 5));
    await authenticate(createStores(database), issued.token, account.id, 'scim');
    expect((await listTokens(createStores(database), account.id))[0]?.lastUsedAt).toBe(
      first?.lastUsedAt,
    );
  });

  it('recognises unique violations', async () => {
    const { account } = await accountWithAdmin();
    const insert = () =>
      database.db
        .insertInto('admins')
        .values({
          id: `dup-${account.id}`,
          account_id: account.id,
          email: 'dup@example.com',
          email_lc: 'dup@example.com',
          password_hash: 'x',
          active: 1,
          created_at: new Date().toISOString(),
        })
        .execute();
    await insert();
    const error = await insert().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(new Error('other'))).toBe(false);
  });

  it('auto-increments scim_log ids as numbers and cascades emails and memberships', async () => {
    const { account } = await accountWithAdmin();
    const at = new Date().toISOString();
    const entry = {
      account_id: account.id,
      at,
      method: 'GET',
      path: '/Users',
      status: 200,
      duration_ms: 3,
    };
    const a = await database.db
      .insertInto('scim_log')
      .values(entry)
      .returning('id')
      .executeTakeFirstOrThrow();
    const b = await database.db
      .insertInto('scim_log')
      .values(entry)
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(typeof a.id).toBe('number');
    expect(b.id).toBeGreaterThan(a.id);

    const userId = `u-${account.id}`;
    const groupId = `g-${account.id}`;
    await database.db
      .insertInto('users')
      .values({
        id: userId,
        account_id: account.id,
        user_name: 'Ann',
        user_name_lc: 'ann',
        external_id: null,
        display_name: null,
        active: 1,
        manager_id: null,
        created_at: at,
        updated_at: at,
        version: 1,
        data: '{}',
        password_hash: null,
      })
      .execute();
    await database.db
      .insertInto('user_emails')
      .values({
        account_id: account.id,
        user_id: userId,
        value_lc: 'ann@x.com',
        type_lc: 'work',
        is_primary: 1,
      })
      .execute();
    await database.db
      .insertInto('groups')
      .values({
        id: groupId,
        account_id: account.id,
        display_name: 'Team',
        display_name_lc: 'team',
        external_id: null,
        created_at: at,
        updated_at: at,
        version: 1,
        data: '{}',
      })
      .execute();
    await database.db
      .insertInto('group_members')
      .values({
        account_id: account.id,
        group_id: groupId,
        member_id: userId,
        member_type: 'User',
        created_at: at,
      })
      .execute();

    await database.db.deleteFrom('users').where('id', '=', userId).execute();
    await database.db.deleteFrom('groups').where('id', '=', groupId).execute();
    const emails = await database.db
      .selectFrom('user_emails')
      .selectAll()
      .where('user_id', '=', userId)
      .execute();
    const members = await database.db
      .selectFrom('group_members')
      .selectAll()
      .where('group_id', '=', groupId)
      .execute();
    expect(emails).toEqual([]);
    expect(members).toEqual([]);
  });
});

describe('PostgreSQL connection loss', () => {
  it('survives the server ending an idle pooled connection, and reconnects', async () => {
    const { createTestDatabase } = await import('../helpers/databases.js');
    const { openDatabase } = await import('../../src/storage/connect.js');
    const { sql } = await import('kysely');
    const testDb = await createTestDatabase('postgres');
    const database = await openDatabase(testDb.url);
    try {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(database.db))
        .rows[0]!.pid;
      const admin = await openDatabase(testDb.url);
      await sql`select pg_terminate_backend(${pid})`.execute(admin.db);
      await admin.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      expect(again.rows[0]!.one).toBe(1);
    } finally {
      await database.close();
      await testDb.dispose();
    }
  });
});
