import type { Kysely, Migration } from 'kysely';

/**
 * Console sign-ins (cookie sessions): one row per browser sign-in. It covers every
 * account where the e-mail and password matched an active admin, so the admin can pick
 * and switch accounts; only SHA-256 hashes of the cookie secret and CSRF token are kept.
 */
export const consoleLogins: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('console_logins')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('email_lc', 'text', (c) => c.notNull())
      /** JSON array of the admin ids (one per account) this sign-in proved. */
      .addColumn('admin_ids', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    // The console reads a user's history and filters the provisioning log by resource,
    // token and time: keep those reads on an index at 100,000 users.
    for (const [table, columns] of [
      ['events', ['account_id', 'resource_id', 'seq']],
      ['scim_log', ['account_id', 'resource_id', 'id']],
      ['scim_log', ['account_id', 'token_id', 'id']],
      ['scim_log', ['account_id', 'at']],
    ] as const) {
      await db.schema
        .createIndex(`${table}_${columns.join('_')}_idx`)
        .on(table)
        .columns([...columns])
        .execute();
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const name of [
      'events_account_id_resource_id_seq_idx',
      'scim_log_account_id_resource_id_id_idx',
      'scim_log_account_id_token_id_id_idx',
      'scim_log_account_id_at_idx',
    ])
      await db.schema.dropIndex(name).ifExists().execute();
    await db.schema.dropTable('console_logins').ifExists().execute();
  },
};
