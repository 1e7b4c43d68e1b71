import type { Kysely, Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * The tables of db-schema.ts. Dialect-neutral except the auto-increment log id.
 * Every unique key starts with account_id (ARCHITECTURE convention 5).
 * Booleans are integers 0/1; timestamps ISO-8601 text; JSON documents text on SQLite
 * and jsonb on PostgreSQL (filters read into them with #>> and jsonb_array_elements).
 */
export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = await isPostgres(db);

    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('admins')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_lc', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('admins_account_email_uq', ['account_id', 'email_lc'])
      .execute();

    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('admin_id', 'text', (c) => c.notNull().references('admins.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .addUniqueConstraint('tokens_secret_hash_uq', ['secret_hash'])
      .execute();
    await index(db, 'tokens', ['account_id']);

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('user_name', 'text', (c) => c.notNull())
      .addColumn('user_name_lc', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('display_name', 'text')
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('manager_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('data', postgres ? 'jsonb' : 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addUniqueConstraint('users_account_user_name_uq', ['account_id', 'user_name_lc'])
      .execute();
    await index(db, 'users', ['account_id', 'external_id']);
    await index(db, 'users', ['account_id', 'manager_id']);
    await index(db, 'users', ['account_id', 'display_name']);
    await index(db, 'users', ['account_id', 'created_at']);
    await index(db, 'users', ['account_id', 'updated_at']);

    // Not a primary key: two users may share an address, one user may list it twice.
    await db.schema
      .createTable('user_emails')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('value_lc', 'text', (c) => c.notNull())
      .addColumn('type_lc', 'text')
      .addColumn('is_primary', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await index(db, 'user_emails', ['account_id', 'value_lc']);
    await index(db, 'user_emails', ['user_id']);

    await db.schema
      .createTable('groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('display_name_lc', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('data', postgres ? 'jsonb' : 'text', (c) => c.notNull())
      .addUniqueConstraint('groups_account_display_name_uq', ['account_id', 'display_name_lc'])
      .execute();
    await index(db, 'groups', ['account_id', 'external_id']);

    // member_id has no foreign key: it names a user or a group; the app deletes
    // memberships explicitly when either side goes.
    await db.schema
      .createTable('group_members')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addColumn('member_id', 'text', (c) => c.notNull())
      .addColumn('member_type', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'member_id'])
      .execute();
    await index(db, 'group_members', ['account_id', 'member_id']);

    // No foreign key on account_id: requests to an unknown account are logged too.
    await db.schema
      .createTable('scim_log')
      .addColumn('id', postgres ? 'bigint' : 'integer', (c) =>
        postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('token_id', 'text')
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('resource_type', 'text')
      .addColumn('resource_id', 'text')
      .addColumn('duration_ms', 'double precision', (c) => c.notNull())
      .addColumn('change', 'text')
      .addColumn('error', 'text')
      .execute();
    await index(db, 'scim_log', ['account_id', 'id']);
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of [
      'scim_log',
      'group_members',
      'groups',
      'user_emails',
      'users',
      'tokens',
      'admins',
      'accounts',
    ]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

async function index(db: Kysely<unknown>, table: string, columns: string[]): Promise<void> {
  await db.schema
    .createIndex(`${table}_${columns.join('_')}_idx`)
    .on(table)
    .columns(columns)
    .execute();
}
