import type { Kysely } from 'kysely';
import type {
  ConsoleAdmin,
  ConsoleLoginStore,
  StoredConsoleLogin,
} from '../app/console/sessions.js';
import type { FoundSession, SessionLookup, SessionStore, StoredSession } from '../app/sessions.js';
import type { Database } from './db-schema.js';

/** One account's admin-API sessions; the account id is bound here, once. */
export class KyselySessionStore implements SessionStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accountId: string,
  ) {}

  async insert(session: StoredSession): Promise<void> {
    await this.db
      .insertInto('admin_sessions')
      .values({
        id: session.id,
        account_id: this.accountId,
        admin_id: session.adminId,
        secret_hash: session.secretHash,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
        revoked_at: null,
      })
      .execute();
  }

  async revoke(sessionId: string, at: string): Promise<void> {
    await this.db
      .updateTable('admin_sessions')
      .set({ revoked_at: at })
      .where('account_id', '=', this.accountId)
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}

/** An admin session by the hash of its secret, with its admin's account and state. */
export class KyselySessionLookup implements SessionLookup {
  constructor(private readonly db: Kysely<Database>) {}

  async bySecretHash(hash: string): Promise<FoundSession | null> {
    const row = await this.db
      .selectFrom('admin_sessions as s')
      .innerJoin('admins as a', 'a.id', 's.admin_id')
      .select([
        's.id',
        's.account_id',
        's.admin_id',
        's.secret_hash',
        's.expires_at',
        's.revoked_at',
        'a.active',
        'a.account_id as admin_account',
      ])
      .where('s.secret_hash', '=', hash)
      .executeTakeFirst();
    if (row === undefined) return null;
    return {
      id: row.id,
      accountId: row.account_id,
      adminId: row.admin_id,
      secretHash: row.secret_hash,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      adminAccountId: row.admin_account,
      adminActive: Number(row.active) === 1,
    };
  }
}

/** Console cookie sign-ins, which span the accounts where one e-mail is an admin. */
export class KyselyConsoleLoginStore implements ConsoleLoginStore {
  constructor(private readonly db: Kysely<Database>) {}

  async candidates(
    emailLc: string,
    limit: number,
  ): Promise<(ConsoleAdmin & { readonly passwordHash: string })[]> {
    const rows = await this.db
      .selectFrom('admins as a')
      .innerJoin('accounts as c', 'c.id', 'a.account_id')
      .select(['a.id', 'a.account_id', 'a.email', 'a.password_hash', 'c.name'])
      .where('a.email_lc', '=', emailLc)
      .where('a.active', '=', 1)
      .orderBy('c.name')
      .orderBy('a.account_id')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ ...toConsoleAdmin(row), passwordHash: row.password_hash }));
  }

  async activeAdmins(adminIds: readonly string[]): Promise<ConsoleAdmin[]> {
    if (adminIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('admins as a')
      .innerJoin('accounts as c', 'c.id', 'a.account_id')
      .select(['a.id', 'a.account_id', 'a.email', 'c.name'])
      .where('a.id', 'in', [...adminIds])
      .where('a.active', '=', 1)
      .orderBy('c.name')
      .orderBy('a.account_id')
      .execute();
    return rows.map(toConsoleAdmin);
  }

  async insert(login: StoredConsoleLogin): Promise<void> {
    await this.db
      .insertInto('console_logins')
      .values({
        id: login.id,
        secret_hash: login.secretHash,
        csrf_hash: login.csrfHash,
        email_lc: login.emailLc,
        admin_ids: login.adminIds,
        created_at: login.createdAt,
        expires_at: login.expiresAt,
        revoked_at: login.revokedAt,
      })
      .execute();
  }

  async bySecretHash(hash: string): Promise<StoredConsoleLogin | null> {
    const row = await this.db
      .selectFrom('console_logins')
      .selectAll()
      .where('secret_hash', '=', hash)
      .executeTakeFirst();
    if (row === undefined) return null;
    return {
      id: row.id,
      secretHash: row.secret_hash,
      csrfHash: row.csrf_hash,
      emailLc: row.email_lc,
      adminIds: row.admin_ids,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
    };
  }

  async revoke(loginId: string, at: string): Promise<void> {
    await this.db
      .updateTable('console_logins')
      .set({ revoked_at: at })
      .where('id', '=', loginId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}

function toConsoleAdmin(row: {
  id: string;
  account_id: string;
  email: string;
  name: string;
}): ConsoleAdmin {
  return { adminId: row.id, accountId: row.account_id, accountName: row.name, email: row.email };
}
