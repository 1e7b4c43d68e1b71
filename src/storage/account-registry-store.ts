import type { Kysely } from 'kysely';
import type { Account, AccountRegistry, StoredPolicy } from '../app/accounts.js';
import type { Database } from './db-schema.js';

/** The `accounts` table: the one table whose rows are not one account's. */
export class KyselyAccountRegistry implements AccountRegistry {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(account: Account): Promise<void> {
    await this.db
      .insertInto('accounts')
      .values({
        id: account.id,
        name: account.name,
        region: account.region,
        created_at: account.createdAt,
      })
      .execute();
  }

  async get(id: string): Promise<Account | null> {
    const row = await this.db
      .selectFrom('accounts')
      .select(['id', 'name', 'region', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toAccount(row) : null;
  }

  async list(): Promise<Account[]> {
    const rows = await this.db
      .selectFrom('accounts')
      .select(['id', 'name', 'region', 'created_at'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toAccount);
  }

  async policy(id: string): Promise<StoredPolicy | null> {
    const row = await this.db
      .selectFrom('accounts')
      .select(['seats', 'settings'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return null;
    const active = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', id)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow();
    return {
      seats: row.seats === null ? null : Number(row.seats),
      settings: row.settings,
      activeUsers: Number(active.n),
    };
  }

  async updatePolicy(
    id: string,
    change: { seats?: number | null; settings: string },
  ): Promise<void> {
    await this.db
      .updateTable('accounts')
      .set({
        ...(change.seats !== undefined ? { seats: change.seats } : {}),
        settings: change.settings,
      })
      .where('id', '=', id)
      .execute();
  }
}

function toAccount(row: { id: string; name: string; region: string; created_at: string }): Account {
  return { id: row.id, name: row.name, region: row.region, createdAt: row.created_at };
}
