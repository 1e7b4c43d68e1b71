import { PostgresAdapter, sql, type Kysely, type Transaction } from 'kysely';
import type { EventStore, NewEvent, RosterEvent } from '../app/events/types.js';
import type { Database } from './db-schema.js';
import { bulkChunks } from './bulk.js';
import { prepared } from './pg-prepared.js';

/**
 * Appends events in the caller's transaction. Sequence numbers come from
 * `accounts.event_seq`, whose row lock, held until COMMIT, makes sequence order commit
 * order within an account, so a reader never skips a late commit.
 *
 * PostgreSQL: the events are inserted with provisional negative numbers, and a deferred
 * trigger (migration 072) numbers them as the transaction commits: the account lock is
 * held only inside COMMIT, never across a round trip, and concurrent writes of one
 * account do not wait for each other before it. SQLite (one writer at a time): numbered
 * here, from the counter bumped in the same transaction.
 */
export async function appendEvents(
  trx: Kysely<Database> | Transaction<Database>,
  accountId: string,
  events: readonly NewEvent[],
  occurredAt: string,
): Promise<void> {
  if (events.length === 0) return;
  const postgres = trx.getExecutor().adapter instanceof PostgresAdapter;
  let first = 0;
  if (!postgres) {
    const row = await trx
      .updateTable('accounts')
      .set((eb) => ({ event_seq: eb('event_seq', '+', events.length) }))
      .where('id', '=', accountId)
      .returning('event_seq')
      .executeTakeFirstOrThrow();
    first = Number(row.event_seq) - events.length + 1;
  }
  const rows = events.map((event, i) => ({
    account_id: accountId,
    seq: postgres ? sql<number>`-nextval('events_pending_seq')` : first + i,
    type: event.type,
    resource_type: event.resourceType,
    resource_id: event.resourceId,
    occurred_at: occurredAt,
    data: JSON.stringify(event.data),
  }));
  // Thousands of events in one change (a 5,000-member add, a manager of 5,000 reports
  // deleted) would exceed the databases' parameter limits in one INSERT.
  // One event (most writes): a fixed text, run as a named prepared statement (pg-prepared.ts).
  if (rows.length === 1) {
    await trx.executeQuery(prepared(trx.insertInto('events').values(rows)));
    return;
  }
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

/** One account's events, for webhook delivery and the pull API. */
export class KyselyEventStore implements EventStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly accountId: string,
  ) {}

  after(afterSeq: number, limit: number): Promise<RosterEvent[]> {
    return readEvents(this.db, this.accountId, afterSeq, limit);
  }
}
