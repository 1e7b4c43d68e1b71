import { sql, type Kysely, type Migration } from 'kysely';
import { isPostgres } from './dialect.js';
import { eventsSequencer } from './074-events-sequencer.js';

/**
 * `roster_sequence_events` (migration 074) numbers each pending event through its key,
 * one statement per event, instead of one UPDATE joining the pending events to `events`.
 *
 * The join's plan depended on the table's statistics. Taken while the table was nearly
 * empty (a new installation's first sync, a fresh bench database), the planner believed
 * an account had a couple of events and read all of them once per call (hash or merge
 * join over the account's events) or once per pending event (a nested loop filtering on
 * `seq`): measured in a 100,000-user bench, a call numbering 253 events read 1.3M rows
 * and took 0.5–2.3 s, holding the account row, so the account's writes that update it
 * (a user created) queued behind it and the calls grew with the backlog until they hit
 * the statement timeout (docs/benchmarks.md, "The sequencer's plan").
 *
 * Now the pending events are read once through the partial index of pending events, in
 * numbering order (as before: transactions by their last event, each one's events in
 * insertion order), and each is updated by `(account_id, resource_id, seq)`: a point
 * lookup in either index that covers it (the primary key or the resource index), whatever
 * the statistics say. Same locks, same order, same single transaction; the account row
 * is updated before the events, as before.
 */
export const sequencerByKey: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    await sql`
      CREATE OR REPLACE FUNCTION roster_sequence_events(p_account text) RETURNS bigint
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE previous_timeout text; keys bigint[]; resources text[]; base bigint;
      BEGIN
        -- Nothing pending in a snapshot taken after the call began: every event committed
        -- before the call is numbered, by a sequencer that has committed.
        PERFORM 1 FROM events WHERE account_id = p_account AND seq < 0 LIMIT 1;
        IF NOT FOUND THEN RETURN 0; END IF;
        -- At most 200 ms for the account's locks, then lock_not_available (55P03): the
        -- events stay pending for the next call (migration 074).
        previous_timeout := current_setting('lock_timeout');
        PERFORM set_config('lock_timeout', '200ms', true);
        PERFORM pg_advisory_xact_lock(hashtextextended('roster-events:' || p_account, 0));
        -- A new statement: a snapshot taken after the lock was granted. A transaction's
        -- events together (their rows' xmin), in insertion order (seq DESC); transactions
        -- in the order of their LAST event (migration 074 says why).
        SELECT array_agg(p.seq ORDER BY p.last DESC, p.seq DESC),
               array_agg(p.resource_id ORDER BY p.last DESC, p.seq DESC)
          INTO keys, resources
          FROM (
            SELECT seq, resource_id, min(seq) OVER (PARTITION BY xmin::text) AS last
            FROM events WHERE account_id = p_account AND seq < 0
          ) p;
        IF keys IS NULL THEN
          PERFORM set_config('lock_timeout', previous_timeout, true);
          RETURN 0;
        END IF;
        UPDATE accounts SET event_seq = event_seq + cardinality(keys)
          WHERE id = p_account
          RETURNING event_seq - cardinality(keys) INTO base;
        IF base IS NULL THEN
          PERFORM set_config('lock_timeout', previous_timeout, true);
          RETURN 0;
        END IF;
        -- Pending rows are only ever inserted (and deleted with their account, which waits
        -- for the account row updated above): each is still there.
        FOR i IN 1 .. cardinality(keys) LOOP
          UPDATE events SET seq = base + i
            WHERE account_id = p_account AND resource_id = resources[i] AND seq = keys[i];
        END LOOP;
        PERFORM set_config('lock_timeout', previous_timeout, true);
        RETURN cardinality(keys);
      END $$`.execute(db);
  },
  async down(db: Kysely<unknown>): Promise<void> {
    if (!(await isPostgres(db))) return;
    // Migration 074's function again (its up() replaces both functions and numbers
    // whatever is pending).
    await eventsSequencer.up(db);
  },
};
