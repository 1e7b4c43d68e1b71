import type { Kysely, Migration } from 'kysely';

/**
 * A running cycle's state shared between Roster processes: when an admin asked (through
 * any process) for it to stop, and its progress (JSON {done, total, startedAt, at}) as the
 * process that runs it writes it each second.
 */
export const syncControl: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_jobs').addColumn('stop_requested_at', 'text').execute();
    await db.schema.alterTable('sync_jobs').addColumn('progress', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_jobs').dropColumn('progress').execute();
    await db.schema.alterTable('sync_jobs').dropColumn('stop_requested_at').execute();
  },
};
