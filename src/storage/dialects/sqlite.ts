import { sql } from 'kysely';
import { groupCommitOf } from '../group-commit.js';
import { jsonPath, type SqlDialect } from './dialect.js';

/** SQLite (better-sqlite3): JSON1 functions, one writer, in-process statements. */
export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  rowLocks: false,
  roundTrips: false,
  sharedByProcesses: false,
  teamVersionShards: 0,

  // Group commit: one fsync for a batch of concurrent writes (group-commit.ts). Inside a
  // transaction already, the work joins it.
  transaction: (db, work) =>
    db.isTransaction
      ? db.transaction().execute(work)
      : (groupCommitOf(db).run(work) as ReturnType<typeof work>),

  // One writer at a time: events take their final numbers as they are inserted, from
  // the account's counter bumped in the same transaction (which orders them as commits).
  async newEventSeqs(trx, accountId, count) {
    const row = await trx
      .updateTable('accounts')
      .set((eb) => ({ event_seq: eb('event_seq', '+', count) }))
      .where('id', '=', accountId)
      .returning('event_seq')
      .executeTakeFirstOrThrow();
    const first = Number(row.event_seq) - count + 1;
    return Array.from({ length: count }, (_, i) => first + i);
  },
  eventsInserted: () => undefined,
  sequenceEvents: () => Promise.resolve(),
  sequencePendingEvents: () => Promise.resolve(),

  lockClause: () => '',
  placeholder: () => '?',
  keyedColumn: (column) => sql`+${sql.ref(column)}`,
  // Users and groups are rowid tables (their text primary key is a unique index).
  rowKey: 'rowid',

  asText: (expr) => sql`CAST(${expr} AS TEXT)`,
  documentBytes: (document) => sql`octet_length(${document})`,
  jsonValue: (document, keys) => sql`json_extract(${document}, ${jsonPath(keys)})`,
  jsonElements: (document, keys, alias) =>
    sql`json_each(${document}, ${jsonPath(keys)}) AS ${sql.raw(alias)}`,
  elementValue: (alias, key) => sql`json_extract(${sql.ref(`${alias}.value`)}, ${jsonPath([key])})`,
  primaryFirst: (alias) =>
    sql`COALESCE(json_extract(${sql.ref(`${alias}.value`)}, '$.primary') = 1, 0) DESC, ${sql.ref(`${alias}.key`)}`,
  // JSON true/false read by json_extract are 1/0.
  jsonBoolean: (expr, value) => sql`(${expr} = ${value ? 1 : 0})`,
  jsonNumber: (expr) => expr,

  contains: (expr, literal) => sql`(instr(${expr}, ${literal}) > 0)`,
  startsWith: (expr, literal, length) => sql`(substr(${expr}, 1, ${length}) = ${literal})`,
  endsWith: (expr, literal, length) => sql`(substr(${expr}, ${-length}) = ${literal})`,
  // BINARY, SQLite's default collation, already compares by code point (UTF-8 bytes).
  byteOrder: (expr) => expr,

  jsonPairs: (first, second, from, orderBy) =>
    `(SELECT json_group_array(json_array(x.a, x.b)) FROM (SELECT ${first} AS a, ${second} AS b ${from} ORDER BY ${orderBy}) x)`,

  async lockAccountForAdmins(trx, accountId) {
    const result = await trx
      .updateTable('accounts')
      .set((eb) => ({ name: eb.ref('name') }))
      .where('id', '=', accountId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  orgChartRootIds: () => undefined,

  claimWebhookEndpoint: (db, claim) => claim(sql``).execute(db),
};
