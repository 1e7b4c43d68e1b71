import type { Kysely } from 'kysely';
import type { Database } from './db-schema.js';

/**
 * A store bound to one account (`stores.forAccount(id)`): every statement it writes is
 * scoped to `accountId`, and it can say whether that account exists, so a use case
 * answers "no such account" rather than an empty list.
 */
export abstract class AccountScopedStore {
  constructor(
    protected readonly db: Kysely<Database>,
    protected readonly accountId: string,
  ) {}

  async accountExists(): Promise<boolean> {
    const row = await this.db
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', this.accountId)
      .executeTakeFirst();
    return row !== undefined;
  }
}
