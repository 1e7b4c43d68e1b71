import type { Kysely, Migration } from 'kysely';

/**
 * What `roster serve` was started with that the CLI must agree on (its public origins:
 * PUBLIC_URL / REGIONS), recorded at each start so that `roster account create` prints
 * the tenant URL the server really serves.
 */
export const deploymentSettings: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('deployment_settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('deployment_settings').ifExists().execute();
  },
};
