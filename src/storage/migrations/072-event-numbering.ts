import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';

/**
 * PostgreSQL numbers a transaction's events at its COMMIT. A write inserts its events
 * with a provisional negative `seq` (from `events_pending_seq`, unique, so concurrent
 * writers never meet on the primary key), and a deferred constraint trigger gives each
 * the account's next sequence number as the transaction commits, in insertion order.
 * The account row's lock (which orders the numbers as the commits) is thus taken and
 * released inside COMMIT, with no round trip to the client while it is held; no reader
 * ever sees a provisional number, since the trigger runs in the writing transaction.
 * SQLite has one writer at a time and numbers events when they are inserted.
 */
export const eventNumbering: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`CREATE SEQUENCE IF NOT EXISTS events_pending_seq`.execute(db);
    await sql`
      CREATE OR REPLACE FUNCTION roster_number_event() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE next_seq bigint;
      BEGIN
        UPDATE accounts SET event_seq = event_seq + 1 WHERE id = NEW.account_id
          RETURNING event_seq INTO next_seq;
        UPDATE events SET seq = next_seq WHERE account_id = NEW.account_id AND seq = NEW.seq;
        RETURN NULL;
      END $$`.execute(db);
    await sql`
      CREATE CONSTRAINT TRIGGER events_number AFTER INSERT ON events
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.seq < 0)
      EXECUTE FUNCTION roster_number_event()`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`DROP TRIGGER IF EXISTS events_number ON events`.execute(db);
    await sql`DROP FUNCTION IF EXISTS roster_number_event()`.execute(db);
    await sql`DROP SEQUENCE IF EXISTS events_pending_seq`.execute(db);
  },
};
