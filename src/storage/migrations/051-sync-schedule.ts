import type { Kysely, Migration } from 'kysely';

/**
 * Jobs defined through the admin API (docs/engine.md, "Admin API and schedule"): the
 * account that owns the job, its target token (the scheduler needs it; never returned by
 * the API), and when its next scheduled cycle is due. Jobs from a job file keep nulls.
 */
export const syncSchedule: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_jobs').addColumn('account_id', 'text').execute();
    await db.schema.alterTable('sync_jobs').addColumn('token', 'text').execute();
    await db.schema.alterTable('sync_jobs').addColumn('next_run_at', 'text').execute();
    await db.schema
      .createIndex('sync_jobs_account')
      .on('sync_jobs')
      .columns(['account_id', 'id'])
      .execute();
    await db.schema.createIndex('sync_jobs_due').on('sync_jobs').column('next_run_at').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('sync_jobs_due').execute();
    await db.schema.dropIndex('sync_jobs_account').execute();
    for (const column of ['next_run_at', 'token', 'account_id'])
      await db.schema.alterTable('sync_jobs').dropColumn(column).execute();
  },
};
