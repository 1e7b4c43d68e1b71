import type { Kysely, Migration } from 'kysely';

/**
 * Lists are ordered by (created_at, id). With these indexes a page's keys are read from
 * the index alone (covering), so a page at startIndex 50,001 skips 50,000 index entries
 * instead of 50,000 stored resources sorted in a temporary b-tree. They replace the
 * users' (account_id, created_at) index, which they extend.
 */
export const pageKeys: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createIndex('users_account_created_id_idx')
      .on('users')
      .columns(['account_id', 'created_at', 'id'])
      .execute();
    await db.schema.dropIndex('users_account_id_created_at_idx').ifExists().execute();
    await db.schema
      .createIndex('groups_account_created_id_idx')
      .on('groups')
      .columns(['account_id', 'created_at', 'id'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('groups_account_created_id_idx').ifExists().execute();
    await db.schema
      .createIndex('users_account_id_created_at_idx')
      .on('users')
      .columns(['account_id', 'created_at'])
      .execute();
    await db.schema.dropIndex('users_account_created_id_idx').ifExists().execute();
  },
};
