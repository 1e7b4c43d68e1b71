import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * Each account's number of users (`accounts.user_count`) and a counter of user inserts
 * and deletes (`accounts.user_changes`), kept by triggers in the same transaction as the
 * rows, so an unfiltered list reads its exact totalResults instead of counting every
 * user of the account, and knows when the positions of its rows may have moved.
 *
 * PostgreSQL: a deferred constraint trigger, so the account row is updated at COMMIT,
 * after the write's last statement (which bumps the event sequence on the same row and
 * already holds its lock): concurrent writes of one account do not queue on it earlier.
 */
export const userCount: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const postgres = await isPostgres(db);
    await db.schema
      .alterTable('accounts')
      .addColumn('user_count', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('accounts')
      .addColumn('user_changes', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`UPDATE accounts SET user_count = (SELECT count(*) FROM users WHERE users.account_id = accounts.id)`.execute(
      db,
    );
    if (postgres) {
      await sql`
        CREATE OR REPLACE FUNCTION roster_count_users() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            UPDATE accounts SET user_count = user_count + 1, user_changes = user_changes + 1
              WHERE id = NEW.account_id;
          ELSE
            UPDATE accounts SET user_count = user_count - 1, user_changes = user_changes + 1
              WHERE id = OLD.account_id;
          END IF;
          RETURN NULL;
        END $$`.execute(db);
      await sql`
        CREATE CONSTRAINT TRIGGER users_count AFTER INSERT OR DELETE ON users
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION roster_count_users()`.execute(
        db,
      );
    } else {
      await sql`
        CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
          UPDATE accounts SET user_count = user_count + 1, user_changes = user_changes + 1
            WHERE id = NEW.account_id;
        END`.execute(db);
      await sql`
        CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
          UPDATE accounts SET user_count = user_count - 1, user_changes = user_changes + 1
            WHERE id = OLD.account_id;
        END`.execute(db);
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    const postgres = await isPostgres(db);
    if (postgres) {
      await sql`DROP TRIGGER IF EXISTS users_count ON users`.execute(db);
      await sql`DROP FUNCTION IF EXISTS roster_count_users()`.execute(db);
    } else {
      await sql`DROP TRIGGER IF EXISTS users_count_insert`.execute(db);
      await sql`DROP TRIGGER IF EXISTS users_count_delete`.execute(db);
    }
    await db.schema.alterTable('accounts').dropColumn('user_changes').execute();
    await db.schema.alterTable('accounts').dropColumn('user_count').execute();
  },
};
