import type { Kysely, Migration } from 'kysely';

/**
 * A team's version as a sharded counter (docs/benchmarks.md, "Member changes without the
 * team row lock (PostgreSQL)"): a team's exposed version (meta.version, ETag, If-Match) is
 * `groups.version` plus the sum of its rows here. On PostgreSQL a member change adds 1 to
 * one of a few rows chosen at random instead of updating the team row, so member changes
 * of one team no longer wait for each other on that row until COMMIT. `updated_at`: the
 * last member change counted in the row (the team's lastModified is the latest of it and
 * `groups.updated_at`). SQLite (one writer) keeps bumping `groups.version` and leaves the
 * table empty. Rows go with their team (cascade).
 */
export const teamVersionShards: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('group_version_shards')
      .addColumn('account_id', 'text', (c) => c.notNull())
      .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addColumn('shard', 'smallint', (c) => c.notNull())
      .addColumn('n', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('group_version_shards_pk', ['group_id', 'shard'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('group_version_shards').execute();
  },
};
