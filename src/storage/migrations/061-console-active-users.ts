import type { Kysely, Migration } from 'kysely';

/**
 * The console counts an account's active users (seats) and lists users by status in
 * creation order; the org chart reads active users by manager. With (account_id, active,
 * created_at, id) those reads come from the index alone instead of looking up every one
 * of 100,000 stored users to read its `active` flag.
 */
export const consoleActiveUsers: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('users_account_active_created_id_idx')
      .on('users')
      .columns(['account_id', 'active', 'created_at', 'id'])
      .execute();
    // Direct reports that are active (org chart counts, levels): the manager index with
    // `active` appended, which replaces it (a prefix of it).
    await db.schema
      .createIndex('users_account_manager_active_idx')
      .on('users')
      .columns(['account_id', 'manager_id', 'active'])
      .execute();
    await db.schema.dropIndex('users_account_id_manager_id_idx').ifExists().execute();
    // Requests and failures per hour of the last day, from the index alone.
    await db.schema
      .createIndex('scim_log_account_at_status_idx')
      .on('scim_log')
      .columns(['account_id', 'at', 'status'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('scim_log_account_at_status_idx').ifExists().execute();
    await db.schema
      .createIndex('users_account_id_manager_id_idx')
      .on('users')
      .columns(['account_id', 'manager_id'])
      .execute();
    await db.schema.dropIndex('users_account_manager_active_idx').ifExists().execute();
    await db.schema.dropIndex('users_account_active_created_id_idx').ifExists().execute();
  },
};
