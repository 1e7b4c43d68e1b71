import type { Kysely, RawBuilder, Transaction } from 'kysely';
import type { RowLock } from '../../app/ports.js';
import type { Database } from '../db-schema.js';

type Sql = RawBuilder<unknown>;

/**
 * What differs between the SQL of SQLite and of PostgreSQL, in one place: JSON paths,
 * substring operators, byte-order comparison, row locks, how a write transaction runs.
 * One object per database (dialects/sqlite.ts, dialects/postgres.ts), chosen once when
 * the database is opened (connect.ts), in the manner of Kysely's dialect adapters: the
 * stores and the filter compiler ask it, and never test which database they are on.
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';

  /**
   * Row locks exist (PostgreSQL). SQLite has one writer at a time: a read never needs
   * a lock, and `lockClause` is empty.
   */
  readonly rowLocks: boolean;
  /**
   * Each statement is a round trip to a server (PostgreSQL): related rows are better
   * written in one statement (CTEs, INSERT ... SELECT). SQLite runs statements in
   * process, where separate simple statements cost nothing more.
   */
  readonly roundTrips: boolean;
  /**
   * Several Roster processes may serve one database at once (PostgreSQL, Scale-out):
   * what a process keeps in memory, such as rate-limit counters without Redis, is then
   * not shared by the others. SQLite is one process's file.
   */
  readonly sharedByProcesses: boolean;
  /**
   * Over how many rows of `group_version_shards` (migration 076) a member change counts a
   * team's new version. PostgreSQL: 16, one chosen at random per change, so concurrent
   * member changes of one team do not all queue on the team row (and rarely on one shard
   * row) until COMMIT; the team's version is `groups.version` plus the sum of its shards,
   * read with data-modifying CTEs and scalar subqueries. SQLite: 0, the team row's version
   * is bumped as before: one writer at a time, so there is nothing to spread.
   */
  readonly teamVersionShards: number;

  /**
   * Runs a write transaction: grouped commits on SQLite, reruns after a deadlock on
   * PostgreSQL. PostgreSQL: once it has committed, the accounts it inserted events for
   * (`eventsInserted`) are scheduled for numbering (`newEventSeqs`), without waiting.
   */
  transaction<T>(
    db: Kysely<Database>,
    work: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T>;

  /**
   * Event numbering (event-log.ts): the `seq` values of `count` events of `accountId`
   * about to be inserted in `trx`, in order.
   * - SQLite (one writer at a time): their final numbers, the account's next ones, taken
   *   from `accounts.event_seq`, bumped here in the same transaction.
   * - PostgreSQL: provisional negative numbers (`-nextval('events_pending_seq')`, more
   *   negative for a later insert); the events get their numbers after their transaction
   *   commits, from the sequencer (migration 074, event-sequencer.ts). Concurrent writers
   *   of one account thus never wait for each other over the account's counter.
   */
  newEventSeqs(
    trx: Kysely<Database>,
    accountId: string,
    count: number,
  ): Promise<readonly (number | RawBuilder<number>)[]>;
  /**
   * Told once events of `accountId` were inserted in `trx`. PostgreSQL: numbering is
   * scheduled once that transaction has committed (when `transaction` ran it; at once
   * when `trx` is no transaction). Nothing to do on SQLite.
   */
  eventsInserted(trx: Kysely<Database>, accountId: string): void;
  /**
   * Before reading `accountId`'s events: numbers those committed so far (PostgreSQL);
   * when it resolves, every event committed before the call has its number. Nothing to
   * do on SQLite, where events are numbered as they are inserted.
   */
  sequenceEvents(db: Kysely<Database>, accountId: string): Promise<void>;
  /** `sequenceEvents` for every account with events awaiting their numbers. */
  sequencePendingEvents(db: Kysely<Database>): Promise<void>;

  /** ` FOR UPDATE` and the like, for the end of a SELECT; empty where there are no row locks. */
  lockClause(lock: RowLock | undefined): string;
  /** The n-th (1-based) parameter placeholder of a raw statement. */
  placeholder(n: number): string;
  /**
   * The account condition's column in a query that names its rows by key (`id IN (...)`):
   * SQLite plans without statistics and would walk the account's whole index rather than
   * look the keys up, so there the column is kept off the index (a unary +).
   */
  keyedColumn(column: string): Sql;

  /**
   * A column naming a row within one statement that is cheaper to look the row up by than
   * its primary key: SQLite's rowid (the table's own b-tree, where the text primary key
   * is a second index of random UUIDs, one leaf page per row of a page). Undefined where
   * the primary key is used. Never kept beyond the statement (VACUUM may renumber rowids).
   */
  readonly rowKey?: string;

  /** A value as text. */
  asText(expr: Sql): Sql;
  /** The size in bytes of a stored JSON document, as sent. */
  documentBytes(document: Sql): Sql;
  /**
   * A `FROM`-clause join giving the document as text once, as `alias.doc`, where turning it
   * into text costs (PostgreSQL's jsonb); undefined where the stored document is its text.
   */
  documentText?(document: Sql, alias: string): Sql;
  /** The scalar at `keys` of a JSON document, as text (SQLite: as stored). */
  jsonValue(document: Sql, keys: readonly string[]): Sql;
  /** `FROM`-clause source of the elements of the JSON array at `keys` ([] when not an array), as `alias`. */
  jsonElements(document: Sql, keys: readonly string[], alias: string): Sql;
  /** Sub-attribute `key` of an element of `jsonElements`. */
  elementValue(alias: string, key: string): Sql;
  /** Elements of `jsonElements` in array order, primary first: the ORDER BY of a multi-valued sort (RFC 7644 §3.4.2.3). */
  primaryFirst(alias: string): Sql;
  /** A JSON boolean read from a document compared with `value`. */
  jsonBoolean(expr: Sql, value: boolean): Sql;
  /** A JSON number read from a document, comparable as a number (NULL when not one). */
  jsonNumber(expr: Sql): Sql;

  /** `expr` contains, starts or ends with `literal` (`length` characters), case as given. */
  contains(expr: Sql, literal: string): Sql;
  startsWith(expr: Sql, literal: string, length: number): Sql;
  endsWith(expr: Sql, literal: string, length: number): Sql;
  /**
   * `expr` compared and sorted by code point, as SQLite's BINARY collation does and as
   * identity providers expect of `gt`/`lt`, whatever the PostgreSQL database's collation.
   */
  byteOrder(expr: Sql): Sql;

  /**
   * A JSON array of [first, second] pairs from the rows of `from` (`FROM ... WHERE ...`,
   * raw SQL) ordered by `orderBy`, `'[]'` for none; raw SQL text.
   */
  jsonPairs(first: string, second: string, from: string, orderBy: string): string;

  /**
   * Takes the lock that serialises changes to an account's admins until `trx` ends.
   * PostgreSQL: a NO KEY UPDATE row lock on the account (a second transaction waits,
   * then counts the admins the first one left). SQLite: a no-op write, which takes the
   * database's write lock at once, so a concurrent process waits (busy_timeout) instead
   * of failing to upgrade a read lock. False when the account does not exist.
   */
  lockAccountForAdmins(trx: Kysely<Database>, accountId: string): Promise<boolean>;

  /**
   * A statement of its own for the org chart's root ids (users without an active manager
   * in the account), at most `limit`, where the portable query plans badly: PostgreSQL
   * cannot estimate how few the roots are. Undefined where the portable query is kept.
   */
  orgChartRootIds(accountId: string, limit: number): RawBuilder<{ id: string }> | undefined;

  /**
   * Claims one webhook endpoint with `claim` (an UPDATE whose candidate SELECT ends with
   * `claimLock()`): PostgreSQL serialises claims with a transaction-scoped advisory lock
   * and skips candidate rows other claimers hold; SQLite's single writer already
   * serialises the UPDATE.
   */
  claimWebhookEndpoint<R>(
    db: Kysely<Database>,
    claim: (claimLock: Sql) => RawBuilder<R>,
  ): Promise<{ rows: R[] }>;
}

export type DialectName = SqlDialect['name'];

/** JSON path text of SQLite's json_extract and json_each (`$."a"."b"`, `$[0]`). */
export function jsonPath(keys: readonly string[]): string {
  return '$' + keys.map((k) => (/^\d+$/.test(k) ? `[${k}]` : `."${k}"`)).join('');
}
