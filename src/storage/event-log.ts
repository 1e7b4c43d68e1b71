import type { Kysely, Transaction } from 'kysely';
import type { EventStore, NewEvent, RosterEvent } from '../app/events/types.js';
import type { Database } from './db-schema.js';
import type { SqlDialect } from './dialects/dialect.js';
import { bulkChunks } from './bulk.js';
import { prepared } from './pg-prepared.js';
import { trailsTransaction } from './pg-fold.js';

/**
 * Appends events in the caller's transaction. Each account's events carry a gapless
 * sequence (`seq`, from `accounts.event_seq`) whose order is the order in which they
 * become readable, so a reader resuming after `seq` never skips an event that commits
 * late (`dialect.newEventSeqs`):
 *
 * - PostgreSQL: the events are inserted with provisional negative numbers and nothing
 *   else (no lock of the account, no trigger). They are numbered after their transaction
 *   commits, by a sequencer (migration 074 has the function and why it is right): the
 *   writer's process schedules it as the transaction commits, without delaying its
 *   answer; a reader of the events (`readEvents`) and the webhook dispatcher's poll call
 *   it before they read. Only committed events are ever numbered, one account's numbering
 *   is serialised by an advisory lock, and each run numbers what is committed above
 *   everything numbered before, oldest provisional number first.
 * - SQLite (one writer at a time): numbered here, from the counter bumped in the same
 *   transaction.
 */
export async function appendEvents(
  trx: Kysely<Database> | Transaction<Database>,
  dialect: SqlDialect,
  accountId: string,
  events: readonly NewEvent[],
  occurredAt: string,
): Promise<void> {
  if (events.length === 0) return;
  const seqs = await dialect.newEventSeqs(trx, accountId, events.length);
  const rows = events.map((event, i) => ({
    account_id: accountId,
    seq: seqs[i]!,
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
    const insert = prepared(trx.insertInto('events').values(rows));
    // Its result is not read: in a PostgreSQL transaction it goes out with COMMIT (pg-fold.ts).
    trailsTransaction(insert.sql);
    await trx.executeQuery(insert);
  } else {
    for (const batch of bulkChunks(rows, 7)) await trx.insertInto('events').values(batch).execute();
  }
  dialect.eventsInserted(trx, accountId);
}

/** Events of one account after `afterSeq`, oldest first. */
export async function readEvents(
  db: Kysely<Database>,
  dialect: SqlDialect,
  accountId: string,
  afterSeq: number,
  limit: number,
): Promise<RosterEvent[]> {
  // Events committed by now get their numbers first (PostgreSQL); pending ones committed
  // meanwhile keep negative provisional numbers, never above a cursor (>= 0).
  await dialect.sequenceEvents(db, accountId);
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('seq', '>', Math.max(0, afterSeq))
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
    private readonly dialect: SqlDialect,
    private readonly accountId: string,
  ) {}

  after(afterSeq: number, limit: number): Promise<RosterEvent[]> {
    return readEvents(this.db, this.dialect, this.accountId, afterSeq, limit);
  }
}
