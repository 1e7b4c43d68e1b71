import type { Kysely, Migration } from 'kysely';

/**
 * What an incremental source (LDAP, another SCIM endpoint) read last, per job: the raw
 * entries or resources it merges the next changes into (docs/engine.md, "Incremental
 * reads"), so a delta read still hands the planner a complete snapshot. Keys are the
 * source's own (`u:<id>`, `g:<id>`, `meta`); data is JSON text.
 */
export const syncSourceCache: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('sync_source_cache')
      .addColumn('job_id', 'text', (c) =>
        c.notNull().references('sync_jobs.id').onDelete('cascade'),
      )
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('sync_source_cache_pk', ['job_id', 'key'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('sync_source_cache').execute();
  },
};
