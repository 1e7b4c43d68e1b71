import type { Kysely, Migration } from 'kysely';

/**
 * Sign-in with OpenID Connect per account:
 * - sso_providers: one identity provider per account; the client secret is stored
 *   encrypted (AES-256-GCM under ROSTER_SSO_KEY), never in clear.
 * - sso_flows: authorisation requests in flight, keyed by a SHA-256 of `state`, bound to
 *   the browser that started them by a SHA-256 of a flow cookie; deleted when used, so a
 *   replayed `state` finds nothing.
 * - sso_identities: (issuer, subject) → user, the link made at the first sign-in, and
 *   whether that sign-in created the user (then later sign-ins refresh its attributes).
 * - sso_sessions: the person's product session (cookie), only a SHA-256 of its secret.
 * - scim_log.source: who made a logged change, `scim` (null on older rows) or `sso`.
 */
export const sso: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('sso_providers')
      .addColumn('account_id', 'text', (c) =>
        c.primaryKey().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('client_secret', 'text')
      .addColumn('allowed_domains', 'text', (c) => c.notNull())
      .addColumn('claims', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('sso_flows')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('browser_hash', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('code_verifier', 'text', (c) => c.notNull())
      .addColumn('return_to', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('sso_flows_expires_at_idx')
      .on('sso_flows')
      .column('expires_at')
      .execute();
    await db.schema
      .createTable('sso_identities')
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      /** `sso`: the first sign-in created the user (claims keep it up to date); `linked`: SCIM's user. */
      .addColumn('provisioned', 'text', (c) => c.notNull().defaultTo('linked'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('sso_identities_pk', ['account_id', 'issuer', 'subject'])
      .execute();
    await db.schema
      .createIndex('sso_identities_user_idx')
      .on('sso_identities')
      .columns(['account_id', 'user_id'])
      .execute();
    await db.schema
      .createTable('sso_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('sso_sessions_user_idx')
      .on('sso_sessions')
      .columns(['account_id', 'user_id'])
      .execute();
    await db.schema.alterTable('scim_log').addColumn('source', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('scim_log').dropColumn('source').execute();
    for (const table of ['sso_sessions', 'sso_identities', 'sso_flows', 'sso_providers'])
      await db.schema.dropTable(table).ifExists().execute();
  },
};
