import { PostgresAdapter, sql, type Kysely, type Transaction } from 'kysely';
import type { NewEvent, RosterEvent } from '../app/events/types.js';
import type { Database } from './db-schema.js';
import { bulkChunks } from './bulk.js';

/** Most events one PostgreSQL statement takes a sequence for and stores (5 parameters each). */
const EVENTS_PER_STATEMENT = 1000;

/**
 * Appends events in the caller's transaction, as its last write before COMMIT. The
 * sequence comes from `accounts.event_seq`: bumping it takes the account row's lock,
 * held until COMMIT, so sequence order is commit order within an account and a reader
 * never skips a late commit. Writers take that lock here, at the end of their
 * transaction, not at its start: two writes of one account run side by side until
 * this statement, and wait for each other only for it and the COMMIT.
 *
 * On PostgreSQL the bump and the insert are one statement (a data-modifying CTE), so
 * the lock is held for one round trip and the COMMIT.
 */
export async function appendEvents(
  trx: Kysely<Database> | Transaction<Database>,
  accountId: string,
  events: readonly NewEvent[],
  occurredAt: string,
): Promise<void> {
  if (events.length === 0) return;
  if (
    trx.getExecutor().adapter instanceof PostgresAdapter &&
    events.length <= EVENTS_PER_STATEMENT
  ) {
    const values = sql.join(
      events.map(
        (event, i) =>
          sql`(${i + 1}::int, ${event.type}, ${event.resourceType}, ${event.resourceId}, ${JSON.stringify(event.data)})`,
      ),
    );
    await sql`
      WITH s AS (
        UPDATE accounts SET event_seq = event_seq + ${events.length}::int
        WHERE id = ${accountId} RETURNING event_seq
      )
      INSERT INTO events (account_id, seq, type, resource_type, resource_id, occurred_at, data)
      SELECT ${accountId}, s.event_seq - ${events.length}::int + v.i, v.type, v.resource_type, v.resource_id, ${occurredAt}, v.data
      FROM s, (VALUES ${values}) AS v(i, type, resource_type, resource_id, data)`.execute(trx);
    return;
  }
  const row = await trx
    .updateTable('accounts')
    .set((eb) => ({ event_seq: eb('event_seq', '+', events.length) }))
    .where('id', '=', accountId)
    .returning('event_seq')
    .executeTakeFirstOrThrow();
  const first = Number(row.event_seq) - events.length + 1;
  const rows = events.map((event, i) => ({
    account_id: accountId,
    seq: first + i,
    type: event.type,
    resource_type: event.resourceType,
    resource_id: event.resourceId,
    occurred_at: occurredAt,
    data: JSON.stringify(event.data),
  }));
  // Thousands of events in one change (a 5,000-member add, a manager of 5,000 reports
  // deleted) would exceed the databases' parameter limits in one INSERT.
  for (const batch of bulkChunks(rows, 7)) await trx.insertInto('events').values(batch).execute();
}

/** Events of one account after `afterSeq`, oldest first. */
export async function readEvents(
  db: Kysely<Database>,
  accountId: string,
  afterSeq: number,
  limit: number,
): Promise<RosterEvent[]> {
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: `${r.account_id}:${r.seq}`,
    accountId: r.account_id,
    seq: Number(r.seq),
    type: r.type as RosterEvent['type'],
    resourceType: r.resource_type as RosterEvent['resourceType'],
    resourceId: r.resource_id,
    occurredAt: r.occurred_at,
    data: JSON.parse(r.data) as RosterEvent['data'],
  }));
}
