import { sql, type Kysely, type Migration } from 'kysely';

/**
 * User search (the console's "find a person", SCIM `displayName co`): `display_name_lc`
 * holds the display name lower-cased like `user_name_lc` (JS `toLowerCase()`, the same
 * folding as `scim_lower`, migration 004), so a case-insensitive match reads a column
 * instead of folding every user's name per query.
 *
 * The two list-order indexes, (account_id, created_at, id) and (account_id, active,
 * created_at, id), are replaced by the same keys followed by the folded user name and
 * display name: a substring search walks the index alone in list order (the page) or in
 * full (the total), instead of reading 100,000 stored users with their JSON documents.
 * It runs after migration 070, which created the first of those indexes.
 */
export const userSearch: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('users').addColumn('display_name_lc', 'text').execute();
    // scim_lower: registered on every SQLite connection (connect.ts), a SQL function on
    // PostgreSQL (migration 004); both equal JS toLowerCase(), which writes the column.
    await sql`UPDATE users SET display_name_lc = scim_lower(display_name) WHERE display_name IS NOT NULL`.execute(
      db,
    );
    await db.schema
      .createIndex('users_account_created_id_search_idx')
      .on('users')
      .columns(['account_id', 'created_at', 'id', 'user_name_lc', 'display_name_lc'])
      .execute();
    await db.schema.dropIndex('users_account_created_id_idx').ifExists().execute();
    await db.schema
      .createIndex('users_account_active_created_id_search_idx')
      .on('users')
      .columns(['account_id', 'active', 'created_at', 'id', 'user_name_lc', 'display_name_lc'])
      .execute();
    await db.schema.dropIndex('users_account_active_created_id_idx').ifExists().execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('users_account_active_created_id_idx')
      .on('users')
      .columns(['account_id', 'active', 'created_at', 'id'])
      .execute();
    await db.schema.dropIndex('users_account_active_created_id_search_idx').ifExists().execute();
    await db.schema
      .createIndex('users_account_created_id_idx')
      .on('users')
      .columns(['account_id', 'created_at', 'id'])
      .execute();
    await db.schema.dropIndex('users_account_created_id_search_idx').ifExists().execute();
    await db.schema.alterTable('users').dropColumn('display_name_lc').execute();
  },
};
