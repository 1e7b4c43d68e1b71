import type { Kysely, Migration } from 'kysely';

/**
 * Failure handling of the provisioning engine (docs/engine.md, "Failures"): objects in
 * escrow with their retry schedule, the job's health (quarantine, staged deletes, the
 * deletes an admin allowed, the notifications sent) and the next retry of a failed
 * log entry.
 */
export const syncFailures: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    /** JSON text: { quarantine, staged, allowedDeletes, notified } (src/sync/failure.ts). */
    await db.schema.alterTable('sync_jobs').addColumn('health', 'text').execute();
    await db.schema.alterTable('sync_log').addColumn('next_retry_at', 'text').execute();
    await db.schema
      .createTable('sync_escrows')
      .addColumn('job_id', 'text', (c) =>
        c.notNull().references('sync_jobs.id').onDelete('cascade'),
      )
      .addColumn('object_type', 'text', (c) => c.notNull())
      .addColumn('source_id', 'text', (c) => c.notNull())
      /** The action that failed: create, update, disable, delete. */
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('first_failed_at', 'text', (c) => c.notNull())
      .addColumn('last_failed_at', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      /** Null once dropped (28 days by default): not retried until the object changes. */
      .addColumn('next_retry_at', 'text')
      .addColumn('last_error', 'text', (c) => c.notNull())
      .addColumn('last_status', 'integer')
      /** Hash of the planned operation: a change in the source retries at once. */
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      /** 0 for throttling that outlasted the waits: retried, never counted toward quarantine. */
      .addColumn('counted', 'integer', (c) => c.notNull().defaultTo(1))
      .addPrimaryKeyConstraint('sync_escrows_pk', ['job_id', 'object_type', 'source_id'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('sync_escrows').ifExists().execute();
    await db.schema.alterTable('sync_log').dropColumn('next_retry_at').execute();
    await db.schema.alterTable('sync_jobs').dropColumn('health').execute();
  },
};
