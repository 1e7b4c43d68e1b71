import type { Kysely, Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * Workspace semantics: per-account event sequence and settings, seats,
 * the event log, webhook endpoints with their delivery cursor, and the delivery log.
 *
 * Events get a gapless per-account sequence from `accounts.event_seq`, bumped in the
 * same transaction as the change: the row lock makes commit order equal sequence
 * order within an account, so a consumer reading `after=<seq>` never skips an event
 * that commits late.
 */
export const events: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = await isPostgres(db);
    await db.schema
      .alterTable('accounts')
      .addColumn('event_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('accounts').addColumn('seats', 'integer').execute();
    await db.schema
      .alterTable('accounts')
      .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();

    await db.schema
      .createTable('events')
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('resource_type', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('occurred_at', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('events_pk', ['account_id', 'seq'])
      .execute();

    await db.schema
      .createTable('webhook_endpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) =>
        c.notNull().references('accounts.id').onDelete('cascade'),
      )
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      /** HMAC key; kept retrievable because signing needs it (shown to the admin once). */
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      /** Highest event seq delivered (acknowledged with 2xx); delivery resumes after it. */
      .addColumn('delivered_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'text')
      /** Lease of the process delivering to this endpoint (no in-process state matters). */
      .addColumn('locked_until', 'text')
      .addColumn('last_error', 'text')
      .execute();
    await db.schema
      .createIndex('webhook_endpoints_account_id_idx')
      .on('webhook_endpoints')
      .column('account_id')
      .execute();

    await db.schema
      .createTable('webhook_attempts')
      .addColumn('id', postgres ? 'bigint' : 'integer', (c) =>
        postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('endpoint_id', 'text', (c) =>
        c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
      )
      .addColumn('first_seq', 'bigint', (c) => c.notNull())
      .addColumn('last_seq', 'bigint', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('status', 'integer')
      .addColumn('error', 'text')
      .addColumn('duration_ms', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('webhook_attempts_endpoint_id_id_idx')
      .on('webhook_attempts')
      .columns(['endpoint_id', 'id'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('webhook_attempts').ifExists().execute();
    await db.schema.dropTable('webhook_endpoints').ifExists().execute();
    await db.schema.dropTable('events').ifExists().execute();
    await db.schema.alterTable('accounts').dropColumn('settings').execute();
    await db.schema.alterTable('accounts').dropColumn('seats').execute();
    await db.schema.alterTable('accounts').dropColumn('event_seq').execute();
  },
};
