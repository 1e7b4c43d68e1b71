import type { Kysely, Migration } from 'kysely';

/**
 * Team mapping: teams Roster creates from provisioning data, and who
 * made each membership, so mapping never removes a membership the identity
 * provider made, nor the reverse.
 *
 * groups.origin: 'scim' (pushed by the identity provider) | 'department' | 'manager'.
 * groups.origin_key: the department (lower-cased) or the manager's user id.
 * groups.base_name: the name without the " (deactivated)" suffix.
 * group_members.source: 'scim' | 'department' | 'manager'.
 */
export const teamMapping: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('groups')
      .addColumn('origin', 'text', (c) => c.notNull().defaultTo('scim'))
      .execute();
    await db.schema.alterTable('groups').addColumn('origin_key', 'text').execute();
    await db.schema.alterTable('groups').addColumn('base_name', 'text').execute();
    await db.schema
      .alterTable('groups')
      .addColumn('deactivated', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createIndex('groups_account_id_origin_origin_key_idx')
      .on('groups')
      .columns(['account_id', 'origin', 'origin_key'])
      .unique()
      .where('origin_key', 'is not', null)
      .execute();
    await db.schema
      .alterTable('group_members')
      .addColumn('source', 'text', (c) => c.notNull().defaultTo('scim'))
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('group_members').dropColumn('source').execute();
    await db.schema.dropIndex('groups_account_id_origin_origin_key_idx').execute();
    for (const column of ['deactivated', 'base_name', 'origin_key', 'origin']) {
      await db.schema.alterTable('groups').dropColumn(column).execute();
    }
  },
};
