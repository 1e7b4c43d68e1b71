import type { Kysely, Migration } from 'kysely';

/**
 * Impact previews computed for a job's pending change (JSON [{id, at}], newest last), so
 * a job that requires a preview before saving a mapping, scoping or source change can
 * check the change saved is one an admin previewed (src/app/sync-jobs.ts).
 */
export const syncPreviews: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_jobs').addColumn('previews', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_jobs').dropColumn('previews').execute();
  },
};
