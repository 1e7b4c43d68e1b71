import type { Kysely, Migration } from 'kysely';

/**
 * The raw request to the target and its answer behind a provisioning log entry (JSON
 * TargetExchange of src/sync/target/exchange.ts, secrets redacted, bodies cut), or NULL
 * when the entry sent nothing.
 */
export const syncLogExchange: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_log').addColumn('exchange', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sync_log').dropColumn('exchange').execute();
  },
};
