import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';
import { eventNumbering } from './072-event-numbering.js';

/**
 * PostgreSQL numbers events after their transaction commits (an outbox and a sequencer),
 * replacing migration 072's COMMIT-time trigger, which took the account row's lock
 * inside every event-producing COMMIT and held it across the WAL flush (one account's
 * writes serialised at one flush each), and ran once per event (a 500-member team: 500
 * updates of the account row).
 *
 * A write inserts its events with a provisional negative `seq` (`-nextval` of
 * `events_pending_seq`: unique, and more negative for a later insert) and nothing else.
 * `roster_sequence_events(account)` gives the account's committed pending events their
 * numbers: it takes a transaction-scoped advisory lock of the account, then, in a new
 * statement (a VOLATILE plpgsql function takes a fresh READ COMMITTED snapshot per
 * statement, so this one is taken after the lock was granted), numbers every pending
 * event of the account it sees, oldest provisional number first (`seq DESC`), from
 * `accounts.event_seq + 1`, and bumps `event_seq` by as many, in one statement. It runs
 * as its own autocommitted transaction (`SELECT roster_sequence_events($1)`). Concurrent
 * writers draw provisional numbers interleaved (two INSERTs calling nextval at once), so
 * the events of one transaction (the `xmin` of its rows, used only to group them) are
 * numbered together: transactions in the provisional order of their last event, each
 * one's events in their own. A transaction's events thus get consecutive numbers, as
 * they did when numbered at COMMIT.
 *
 * Why this is right without looking at transaction ids:
 * - A snapshot sees committed rows only: a number is only ever given to a committed
 *   event, and a rollback leaves nothing behind to number.
 * - Numbering is serialised per account by the advisory lock, which is released after
 *   the holder's commit is visible (locks are released after the commit record is
 *   flushed and the transaction has left the proc array): the next sequencer's snapshot
 *   sees every number given before, and gives numbers above them. Numbers are thus
 *   handed out in increasing order, each once, with no gap, to events already committed:
 *   a reader of `seq > cursor` never skips an event that commits late, since that event
 *   gets a number above everything numbered before it committed. A reader never sees a
 *   provisional number either (readers ask for `seq > cursor >= 0`).
 * - Per-resource order: two writes that change one row (a user, a membership, a team's
 *   attributes) are serialised by that row's lock, so the later writer inserts at least
 *   its last event after the earlier one committed (its last event being what follows
 *   the change that waited), with a more negative provisional number than all of the
 *   earlier's; any snapshot that sees the later commit sees the earlier, so the earlier's
 *   events are numbered first (in the same run, transactions by their last event, or in
 *   an earlier run). Writes that change no row in common (two members added to one team,
 *   whose version shards may differ) are not ordered between themselves.
 * - A busy account does not hold up others: the function waits at most 200 ms for the
 *   account's locks (lock_timeout), then fails with lock_not_available and leaves the
 *   events pending; the application numbers pending accounts one autocommitted call
 *   each (event-sequencer.ts), so one account's numbering never waits for another's.
 * - A crash between a commit and its numbering leaves pending events, which the next
 *   sequencer call of the account (any process, any reader, the dispatcher's poll)
 *   numbers.
 *
 * `roster_sequence_pending()` does the same for every account that has pending events
 * (found through the partial index of pending events), taking the accounts' locks in
 * the order of their lock keys, so two of them never deadlock; the webhook dispatcher
 * calls it before it looks for accounts with undelivered events.
 */
export const eventsSequencer: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`DROP TRIGGER IF EXISTS events_number ON events`.execute(db);
    await sql`DROP FUNCTION IF EXISTS roster_number_event()`.execute(db);
    // The pending events only: small whatever the log's size. Serves the per-account
    // lookup (account_id = $1 AND seq < 0 ORDER BY seq DESC) and the scan for accounts
    // with pending events.
    await sql`
      CREATE INDEX IF NOT EXISTS events_pending_idx ON events (account_id, seq)
      WHERE seq < 0`.execute(db);
    await sql`
      CREATE OR REPLACE FUNCTION roster_sequence_events(p_account text) RETURNS bigint
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE numbered bigint; previous_timeout text;
      BEGIN
        -- Nothing pending in a snapshot taken after the call began: every event committed
        -- before the call is numbered, by a sequencer that has committed (one still
        -- running would leave its events pending in this snapshot).
        PERFORM 1 FROM events WHERE account_id = p_account AND seq < 0 LIMIT 1;
        IF NOT FOUND THEN RETURN 0; END IF;
        -- Waits at most 200 ms for the account's locks (another sequencer, or a write that
        -- holds the account row for its whole transaction: a seat check, an account that
        -- maps teams): then lock_not_available (55P03), and the events stay pending for
        -- the next call. A caller never holds a connection for another transaction's length.
        previous_timeout := current_setting('lock_timeout');
        PERFORM set_config('lock_timeout', '200ms', true);
        PERFORM pg_advisory_xact_lock(hashtextextended('roster-events:' || p_account, 0));
        -- A new statement: a snapshot taken after the lock was granted.
        -- A transaction's events together (their rows' xmin), in insertion order (seq
        -- DESC: the first inserted first); transactions in the order of their LAST event.
        -- A write that waited for another's lock (a row both change) inserts at least its
        -- last event after that other committed, so conflicting writes are numbered in
        -- commit order even when the later one inserted an event before it waited.
        WITH pending AS MATERIALIZED (
          SELECT seq, row_number() OVER (ORDER BY last DESC, seq DESC) AS n
          FROM (
            SELECT seq, min(seq) OVER (PARTITION BY xmin::text) AS last
            FROM events WHERE account_id = p_account AND seq < 0
          ) p
        ), bumped AS (
          UPDATE accounts SET event_seq = event_seq + (SELECT count(*) FROM pending)
          WHERE id = p_account AND EXISTS (SELECT 1 FROM pending)
          RETURNING event_seq - (SELECT count(*) FROM pending) AS base
        )
        UPDATE events e SET seq = bumped.base + pending.n
        FROM pending, bumped
        WHERE e.account_id = p_account AND e.seq = pending.seq;
        GET DIAGNOSTICS numbered = ROW_COUNT;
        PERFORM set_config('lock_timeout', previous_timeout, true);
        RETURN numbered;
      END $$`.execute(db);
    await sql`
      CREATE OR REPLACE FUNCTION roster_sequence_pending() RETURNS bigint
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE account text; total bigint := 0;
      BEGIN
        FOR account IN
          SELECT a.account_id FROM (SELECT DISTINCT account_id FROM events WHERE seq < 0) a
          ORDER BY hashtextextended('roster-events:' || a.account_id, 0), a.account_id
        LOOP
          BEGIN
            total := total + roster_sequence_events(account);
          EXCEPTION WHEN lock_not_available THEN
            -- A busy account: its events stay pending for the next call.
          END;
        END LOOP;
        RETURN total;
      END $$`.execute(db);
    // Events a running process inserted under migration 072 were numbered as they
    // committed; any left pending now (none expected) get their numbers.
    await sql`SELECT roster_sequence_pending()`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`SELECT roster_sequence_pending()`.execute(db);
    await sql`DROP FUNCTION IF EXISTS roster_sequence_pending()`.execute(db);
    await sql`DROP FUNCTION IF EXISTS roster_sequence_events(text)`.execute(db);
    await sql`DROP INDEX IF EXISTS events_pending_idx`.execute(db);
    await eventNumbering.up(db);
  },
};
