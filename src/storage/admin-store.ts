import type { Kysely } from 'kysely';
import type { Admin, AdminCredentials, AdminStore, LockedAdmins } from '../app/accounts.js';
import { isUniqueViolation, type SqlDialect } from './connect.js';
import type { Database } from './db-schema.js';

const ADMIN_COLUMNS = ['id', 'account_id', 'email', 'active', 'created_at'] as const;

/** One account's admins; the account id is bound here, once. */
export class KyselyAdminStore implements AdminStore {
  private readonly reads: AdminReads;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly accountId: string,
  ) {
    this.reads = new AdminReads(db, accountId);
  }

  list(): Promise<Admin[]> {
    return this.reads.list();
  }

  get(adminId: string): Promise<Admin | null> {
    return this.reads.get(adminId);
  }

  findByEmail(email: string): Promise<Admin | null> {
    return this.reads.findByEmail(email);
  }

  async firstActive(): Promise<Admin | null> {
    const row = await this.db
      .selectFrom('admins')
      .select(ADMIN_COLUMNS)
      .where('account_id', '=', this.accountId)
      .where('active', '=', 1)
      .orderBy('created_at')
      .orderBy('id')
      .executeTakeFirst();
    return row ? toAdmin(row) : null;
  }

  async credentials(email: string): Promise<AdminCredentials | null> {
    const row = await this.db
      .selectFrom('admins')
      .select([...ADMIN_COLUMNS, 'password_hash'])
      .where('account_id', '=', this.accountId)
      .where('email_lc', '=', emailKey(email))
      .executeTakeFirst();
    return row ? { ...toAdmin(row), passwordHash: row.password_hash } : null;
  }

  async insert(admin: Admin, passwordHash: string): Promise<'created' | 'duplicate'> {
    try {
      await this.db
        .insertInto('admins')
        .values({
          id: admin.id,
          account_id: this.accountId,
          email: admin.email,
          email_lc: emailKey(admin.email),
          password_hash: passwordHash,
          active: admin.active ? 1 : 0,
          created_at: admin.createdAt,
        })
        .execute();
      return 'created';
    } catch (error) {
      if (isUniqueViolation(error)) return 'duplicate';
      throw error;
    }
  }

  async exclusively<T extends object>(
    change: (admins: LockedAdmins) => Promise<T>,
  ): Promise<T | null> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.lock(trx))) return null;
      return change(new AdminReads(trx, this.accountId));
    });
  }

  /** Serialises changes to this account's admins until the transaction ends (the dialect's lock). */
  private lock(trx: Kysely<Database>): Promise<boolean> {
    return this.dialect.lockAccountForAdmins(trx, this.accountId);
  }
}

/** Reads and the active flag, over the store's connection or inside its transaction. */
class AdminReads implements LockedAdmins {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accountId: string,
  ) {}

  async list(): Promise<Admin[]> {
    const rows = await this.db
      .selectFrom('admins')
      .select(ADMIN_COLUMNS)
      .where('account_id', '=', this.accountId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toAdmin);
  }

  async get(adminId: string): Promise<Admin | null> {
    const row = await this.db
      .selectFrom('admins')
      .select(ADMIN_COLUMNS)
      .where('account_id', '=', this.accountId)
      .where('id', '=', adminId)
      .executeTakeFirst();
    return row ? toAdmin(row) : null;
  }

  async findByEmail(email: string): Promise<Admin | null> {
    const row = await this.db
      .selectFrom('admins')
      .select(ADMIN_COLUMNS)
      .where('account_id', '=', this.accountId)
      .where('email_lc', '=', emailKey(email))
      .executeTakeFirst();
    return row ? toAdmin(row) : null;
  }

  async countActive(): Promise<number> {
    const row = await this.db
      .selectFrom('admins')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', this.accountId)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setActive(adminId: string, active: boolean): Promise<void> {
    await this.db
      .updateTable('admins')
      .set({ active: active ? 1 : 0 })
      .where('account_id', '=', this.accountId)
      .where('id', '=', adminId)
      .execute();
  }
}

/** The `email_lc` column: the e-mail trimmed and lower-cased (db-schema.ts). */
function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

function toAdmin(row: {
  id: string;
  account_id: string;
  email: string;
  active: number;
  created_at: string;
}): Admin {
  return {
    id: row.id,
    accountId: row.account_id,
    email: row.email,
    active: Number(row.active) === 1,
    createdAt: row.created_at,
  };
}
