import { sql } from 'kysely';
import type { RowLock } from '../../app/ports.js';
import { retried } from '../db-errors.js';
import { eventSequencerOf } from '../event-sequencer.js';
import type { SqlDialect } from './dialect.js';

const LOCKS: Record<RowLock, string> = {
  update: ' FOR UPDATE',
  noKeyUpdate: ' FOR NO KEY UPDATE',
  keyShare: ' FOR KEY SHARE',
};

/** Advisory lock key serialising webhook claims (an arbitrary constant). */
const CLAIM_LOCK_KEY = sql.lit(726_573_001);

/** An event's provisional number, until the sequencer numbers it (migration 074). */
const PROVISIONAL_SEQ = sql<number>`-nextval('events_pending_seq')`;

/** The accounts each running write transaction (of `transaction`) inserted events for. */
const eventAccounts = new WeakMap<object, Set<string>>();

/** The elements of a jsonb array at `keys`; anything else there counts as no elements. */
function arrayAt(document: ReturnType<typeof sql>, keys: readonly string[]) {
  const array = sql`(${document} #> ${sql.val(keys)}::text[])`;
  return sql`jsonb_array_elements(CASE WHEN jsonb_typeof(${array}) = 'array' THEN ${array} ELSE '[]'::jsonb END)`;
}

/** PostgreSQL (pg): jsonb documents, row locks, a round trip per statement. */
export const postgresDialect: SqlDialect = {
  name: 'postgres',
  rowLocks: true,
  roundTrips: true,
  sharedByProcesses: true,
  teamVersionShards: 16,

  // Writes of one account lock only the rows they change, and the account row at their
  // end: PostgreSQL may still find a deadlock (say a team's rename against member
  // changes of it), or a serialisation failure, and end one transaction. Nothing of it
  // was stored, so it runs again from the start.
  //
  // Events inserted in the transaction are numbered after it commits (migration 074):
  // the accounts they belong to are scheduled for the sequencer, which does not delay
  // the caller. A run that failed inserted nothing that survives, and schedules nothing.
  transaction: (db, work) =>
    retried(async () => {
      const accounts = new Set<string>();
      const result = await db.transaction().execute((trx) => {
        eventAccounts.set(trx, accounts);
        return work(trx);
      });
      for (const accountId of accounts) eventSequencerOf(db).schedule(accountId);
      return result;
    }),

  newEventSeqs: (_trx, _accountId, count) =>
    Promise.resolve(Array.from({ length: count }, () => PROVISIONAL_SEQ)),
  eventsInserted(trx, accountId) {
    // Autocommitted: already committed. In a transaction `transaction` did not start,
    // nobody schedules: the next reader's or the dispatcher's call numbers the events.
    if (!trx.isTransaction) eventSequencerOf(trx).schedule(accountId);
    else eventAccounts.get(trx)?.add(accountId);
  },
  async sequenceEvents(db, accountId) {
    // Inside a transaction (no caller does so today): in it, numbering what it sees.
    if (db.isTransaction) await sql`SELECT roster_sequence_events(${accountId})`.execute(db);
    else await eventSequencerOf(db).sequence(accountId);
  },
  async sequencePendingEvents(db) {
    if (db.isTransaction) await sql`SELECT roster_sequence_pending()`.execute(db);
    else await eventSequencerOf(db).sequencePending();
  },

  lockClause: (lock) => (lock === undefined ? '' : LOCKS[lock]),
  placeholder: (n) => `$${n}`,
  keyedColumn: (column) => sql`${sql.ref(column)}`,

  asText: (expr) => sql`(${expr})::text`,
  // Documents are jsonb: their size is that of their text.
  documentBytes: (document) => sql`octet_length(${document}::text)`,
  // OFFSET 0 keeps the planner from inlining the subquery (which would convert it again per use).
  documentText: (document, alias) =>
    sql` CROSS JOIN LATERAL (SELECT ${document}::text AS doc OFFSET 0) ${sql.raw(alias)}`,
  jsonValue: (document, keys) => sql`(${document} #>> ${sql.val(keys)}::text[])`,
  jsonElements: (document, keys, alias) =>
    sql`${arrayAt(document, keys)} WITH ORDINALITY AS ${sql.raw(alias)}(v, n)`,
  elementValue: (alias, key) => sql`(${sql.ref(`${alias}.v`)} ->> ${key})`,
  primaryFirst: (alias) =>
    sql`COALESCE(${sql.ref(`${alias}.v`)} -> 'primary' = 'true'::jsonb, false) DESC, ${sql.ref(`${alias}.n`)}`,
  // `#>>` reads a JSON boolean as the text 'true'/'false'.
  jsonBoolean: (expr, value) =>
    sql`((${expr})::text IN (${value ? 'true' : 'false'}, ${value ? '1' : '0'}))`,
  jsonNumber: (expr) => sql`(CASE WHEN ${expr} ~ '^-?[0-9.eE+-]+$' THEN (${expr})::numeric END)`,

  contains: (expr, literal) => sql`(strpos(${expr}, ${literal}) > 0)`,
  startsWith: (expr, literal, length) => sql`(left(${expr}, ${length}) = ${literal})`,
  endsWith: (expr, literal, length) => sql`(right(${expr}, ${length}) = ${literal})`,
  byteOrder: (expr) => sql`${expr} COLLATE "C"`,

  jsonPairs: (first, second, from, orderBy) =>
    `(SELECT coalesce(json_agg(json_build_array(${first}, ${second}) ORDER BY ${orderBy}), '[]'::json) ${from})`,

  async lockAccountForAdmins(trx, accountId) {
    const row = await trx
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', accountId)
      // NO KEY UPDATE: excludes other admin changes and the account's SCIM writes'
      // event-sequence bump, but not their inserts (which hold KEY SHARE on this row).
      .forNoKeyUpdate()
      .executeTakeFirst();
    return row !== undefined;
  },

  // Each distinct manager is looked up by primary key (a LATERAL subquery, so a nested
  // loop of 10,000 probes) and that one lookup tells both whether the manager is an
  // active user and whether they manage themselves. Planned as joins, the same tests
  // hash-join two sequential scans of every user.
  orgChartRootIds: (accountId, limit) => sql<{ id: string }>`
    WITH mgr AS MATERIALIZED (
      SELECT DISTINCT manager_id AS id FROM users
      WHERE account_id = ${accountId} AND manager_id IS NOT NULL),
    probe AS MATERIALIZED (
      SELECT mgr.id, p.found, p.active, p.manager_id FROM mgr
      LEFT JOIN LATERAL (
        SELECT true AS found, m.active, m.manager_id FROM users m
        WHERE m.id = mgr.id AND m.account_id = ${accountId} OFFSET 0) p ON true)
    SELECT id FROM users WHERE account_id = ${accountId} AND manager_id IS NULL AND active = 1
    UNION
    SELECT r.id FROM users r
      WHERE r.account_id = ${accountId} AND r.active = 1
        AND r.manager_id IN (SELECT id FROM probe WHERE found IS NULL OR active <> 1)
    UNION
    SELECT id FROM probe WHERE manager_id = id AND active = 1
    LIMIT ${limit}`,

  // SKIP LOCKED lets concurrent claimers pass over each other's candidate instead of
  // queueing on it. Two claimers racing could each count the leases of a snapshot taken
  // before the other committed: the advisory lock serialises claims (a claim takes
  // milliseconds), and the UPDATE's snapshot is taken after it, so it sees every
  // committed lease.
  claimWebhookEndpoint: (db, claim) =>
    db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCK_KEY})`.execute(trx);
      return claim(sql`FOR UPDATE OF e SKIP LOCKED`).execute(trx);
    }),
};
