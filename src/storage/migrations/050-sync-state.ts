import type { Kysely, Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * Connector state of the provisioning engine (docs/engine.md): jobs, source ↔ target
 * links with the values last exported, cycle runs and the per-object provisioning log.
 *
 * A sync job feeds an arbitrary SCIM endpoint (Roster's own or anyone's), so these rows
 * belong to the job, not to a Roster account: every key starts with `job_id`.
 */
export const syncState: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = await isPostgres(db);
    await db.schema
      .createTable('sync_jobs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      /** JSON text: the job definition (source, target, dialect, mappings, scoping). */
      .addColumn('config', 'text', (c) => c.notNull())
      /** Hash of the mappings and scoping; a change forces a full (initial) cycle. */
      .addColumn('config_hash', 'text', (c) => c.notNull())
      /** Opaque source position after the last completed cycle; null → initial cycle. */
      .addColumn('watermark', 'text')
      /** config_hash the watermark was earned with. */
      .addColumn('watermark_hash', 'text')
      /** Lease so that a job never runs twice at once, across processes. */
      .addColumn('lease_owner', 'text')
      .addColumn('lease_until', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('sync_links')
      .addColumn('job_id', 'text', (c) =>
        c.notNull().references('sync_jobs.id').onDelete('cascade'),
      )
      /** 'user' or 'group'. */
      .addColumn('object_type', 'text', (c) => c.notNull())
      .addColumn('source_id', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text', (c) => c.notNull())
      /** JSON text: the values last exported, keyed by target attribute path. */
      .addColumn('exported', 'text', (c) => c.notNull())
      /** 1 while the target object is enabled by the engine, 0 once disabled. */
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('sync_links_pk', ['job_id', 'object_type', 'source_id'])
      .execute();

    await db.schema
      .createTable('sync_cycles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('job_id', 'text', (c) =>
        c.notNull().references('sync_jobs.id').onDelete('cascade'),
      )
      /** 'initial' or 'incremental'. */
      .addColumn('kind', 'text', (c) => c.notNull())
      /** 'running', 'succeeded', 'failed'. */
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      /** JSON text: counts per object type and action, failures, duration. */
      .addColumn('summary', 'text')
      .execute();
    await db.schema
      .createIndex('sync_cycles_job_id_started_at_idx')
      .on('sync_cycles')
      .columns(['job_id', 'started_at'])
      .execute();

    await db.schema
      .createTable('sync_log')
      .addColumn('id', postgres ? 'bigint' : 'integer', (c) =>
        postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('job_id', 'text', (c) =>
        c.notNull().references('sync_jobs.id').onDelete('cascade'),
      )
      .addColumn('cycle_id', 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('object_type', 'text', (c) => c.notNull())
      .addColumn('source_id', 'text', (c) => c.notNull())
      .addColumn('target_id', 'text')
      /** create, update, disable, delete, skip. */
      .addColumn('action', 'text', (c) => c.notNull())
      /** success, failure, skipped. */
      .addColumn('status', 'text', (c) => c.notNull())
      /** JSON text: [{step, detail}] (import, scope, match, action). */
      .addColumn('steps', 'text', (c) => c.notNull())
      /** JSON text: [{name, old, new}]. */
      .addColumn('modified', 'text', (c) => c.notNull())
      .addColumn('target_status', 'integer')
      .addColumn('error', 'text')
      .addColumn('duration_ms', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('sync_log_job_id_id_idx')
      .on('sync_log')
      .columns(['job_id', 'id'])
      .execute();
    await db.schema
      .createIndex('sync_log_job_id_source_id_idx')
      .on('sync_log')
      .columns(['job_id', 'source_id'])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('sync_log').ifExists().execute();
    await db.schema.dropTable('sync_cycles').ifExists().execute();
    await db.schema.dropTable('sync_links').ifExists().execute();
    await db.schema.dropTable('sync_jobs').ifExists().execute();
  },
};
