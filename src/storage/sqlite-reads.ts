import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type SqliteDatabase from 'better-sqlite3';
import type { Database } from './db-schema.js';

/** A SQLite connection's handle and its prepared-statement cache (connect.ts). */
export interface DirectReads {
  readonly sqlite: SqliteDatabase.Database;
  readonly prepare: (source: string) => SqliteDatabase.Statement;
}

const direct = new WeakMap<object, DirectReads>();

/** Lets `readRows` over `db` (the Kysely instance of a SQLite file) run statements directly on `sqlite`. */
export function allowDirectReads(
  db: Kysely<Database>,
  sqlite: SqliteDatabase.Database,
  prepare: (source: string) => SqliteDatabase.Statement,
): void {
  direct.set(db, { sqlite, prepare });
}

/**
 * The SQLite connection under `db` when a statement may run on it directly now: `db` is
 * the Kysely instance of a SQLite file (not a Transaction), and no transaction is open on
 * the connection. Undefined otherwise.
 */
export function idleSqlite(db: Kysely<Database> | Transaction<Database>): DirectReads | undefined {
  const reads = direct.get(db);
  return reads !== undefined && !reads.sqlite.inTransaction && reads.sqlite.open
    ? reads
    : undefined;
}

/**
 * The rows of ONE read-only statement (`text` with positional `parameters`).
 *
 * On SQLite, when no transaction is open on the connection, the statement runs at once on
 * better-sqlite3's cached prepared statement: Kysely's executor (connection mutex, plugin
 * and promise chain) cost about as much as the statement itself on a GET by id
 * (docs/benchmarks.md). better-sqlite3 runs a statement to completion synchronously, so
 * nothing can interleave with it, and outside a transaction it reads committed data only,
 * as the same statement queued behind Kysely's mutex would.
 *
 * Everything else goes through Kysely: a store bound to a transaction (`db` is then a
 * Transaction, never registered), PostgreSQL, and SQLite while a transaction holds the
 * connection (a group-commit batch between BEGIN and COMMIT): the statement then waits
 * for the connection and reads after the COMMIT, never another request's uncommitted writes.
 */
export function readRows<R>(
  db: Kysely<Database> | Transaction<Database>,
  text: string,
  parameters: readonly unknown[],
): R[] | Promise<R[]> {
  const reads = idleSqlite(db);
  if (reads !== undefined) return reads.prepare(text).all(...parameters) as R[];
  return db
    .executeQuery(CompiledQuery.raw(text, [...parameters]) as CompiledQuery<R>)
    .then((result) => result.rows as R[]);
}
