import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { isPostgresUrl } from '../config.js';
import { addAuthStalenessCheck } from '../app/auth-cache.js';
import type { Database } from './db-schema.js';
import { allowDirectReads } from './sqlite-reads.js';
import {
  postgresDialect,
  sqliteDialect,
  type DialectName,
  type SqlDialect,
} from './dialects/index.js';

export type { DialectName, SqlDialect } from './dialects/index.js';

export interface RosterDatabase {
  db: Kysely<Database>;
  /** Which database this is; `sqlDialect.name`. */
  dialect: DialectName;
  /** Its SQL differences (dialects/), chosen here once for every store built over it. */
  sqlDialect: SqlDialect;
  close(): Promise<void>;
  /** Connection-pool figures for `/metrics` (PostgreSQL; SQLite has one connection and no pool). */
  poolStats?: () => PoolStats;
  /**
   * Cancels the PostgreSQL statements running now for the work of `scope` (a request
   * whose client went away). SQLite: nothing to cancel (a statement never outlives the
   * synchronous call that runs it).
   */
  cancel?(scope: QueryScope): Promise<void>;
}

export interface PoolStats {
  /** Connections open (in use + idle). */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
  /** The pool's size limit. */
  max: number;
}

/** The pooled connections one request (or other unit of work) holds right now. */
export interface QueryScope {
  readonly clients: Set<pg.PoolClient>;
}

/**
 * The unit of work a query belongs to: the HTTP plugins run each request inside one
 * (`queryScope.run`), and the PostgreSQL pool records which connections it holds, so
 * a request whose client disconnects can have its statements cancelled.
 */
export const queryScope = new AsyncLocalStorage<QueryScope>();

export function newQueryScope(): QueryScope {
  return { clients: new Set() };
}

/**
 * Opens Roster's database: PostgreSQL for a `postgres://`/`postgresql://` URL, otherwise
 * an embedded SQLite file (its directory is created). Does not migrate.
 */
export async function openDatabase(
  url: string,
  options: DatabaseOptions = {},
): Promise<RosterDatabase> {
  return isPostgresUrl(url) ? openPostgres(url, options) : openSqlite(url);
}

export interface DatabaseOptions {
  /**
   * PostgreSQL: the server cancels any statement running longer (statement_timeout),
   * so one expensive request cannot hold a pooled connection for minutes; 0 or absent:
   * no limit (the CLI, migrations). The server passes DB_STATEMENT_TIMEOUT_MS.
   */
  readonly statementTimeoutMs?: number;
}

// Database errors are read in one place (db-errors.ts); re-exported for existing imports.
export { isStatementTimeout, isUniqueViolation } from './db-errors.js';

function openSqlite(url: string): RosterDatabase {
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets readers run beside the one writer; FULL syncs each commit, so an
  // acknowledged SCIM write survives a power cut.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // 64 MiB of page cache (default 2 MiB): the upper levels of the users' indexes stay in
  // memory at 1M users, and a commit's pages need not be read back (docs/benchmarks.md).
  sqlite.pragma('cache_size = -65536');
  // Checkpoint the WAL every 10,000 pages (~40 MiB) rather than 1,000: fewer checkpoints,
  // each writing back pages that many commits touched. Durability is unchanged (FULL).
  sqlite.pragma('wal_autocheckpoint = 10000');
  // SQLite's lower() folds ASCII only; the `*_lc` columns hold JS toLowerCase(), so the
  // filter compiler lowers values with the same function to compare like with like.
  sqlite.function('scim_lower', { deterministic: true }, (value: unknown) =>
    value === null || value === undefined ? null : String(value).toLowerCase(),
  );
  const statements = withStatementCache(sqlite);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: statements.database }),
  });
  // Read-only single statements of the stores skip Kysely's executor when they can (sqlite-reads.ts).
  allowDirectReads(db, sqlite, statements.prepare);
  // Another process's commit (a CLI revocation) changes data_version: drop cached token lookups.
  // Prepared once: pragma() prepares its statement on every call (~40 us, on every request).
  const dataVersionOf = sqlite.prepare('PRAGMA data_version').pluck();
  let dataVersion = dataVersionOf.get();
  const removeCheck = addAuthStalenessCheck(() => {
    if (!sqlite.open) return false;
    const now = dataVersionOf.get();
    if (now === dataVersion) return false;
    dataVersion = now;
    return true;
  });
  return {
    db,
    dialect: sqliteDialect.name,
    sqlDialect: sqliteDialect,
    close: () => {
      removeCheck();
      return db.destroy();
    },
  };
}

/** Distinct SQL texts kept prepared; Roster issues a few dozen shapes, filters add more. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query afresh; preparing (parsing and planning) was
 * a third of the time of a GET by id (`--cpu-prof`, docs/benchmarks.md). Reusing prepared
 * statements by SQL text is safe: better-sqlite3 runs each statement to completion
 * synchronously, and Roster does not stream (iterate) results.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): {
  database: SqliteDatabase.Database;
  prepare: (source: string) => SqliteDatabase.Statement;
} {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const prepareNew = sqlite.prepare.bind(sqlite);
  const prepare = (source: string): SqliteDatabase.Statement => {
    let statement = cache.get(source);
    if (statement === undefined) {
      statement = prepareNew(source);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  };
  const database = new Proxy(sqlite, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver) as unknown;
        // Native methods must be called on the real database object, not the proxy.
        return typeof value === 'function'
          ? (value as (...args: unknown[]) => unknown).bind(target)
          : value;
      }
      return prepare;
    },
  });
  return { database, prepare };
}

/** Connections in the PostgreSQL pool; the per-account share of requests is taken from it. */
export const POOL_SIZE = 10;

// OIDs of PostgreSQL's int8 (bigint: count(*), identity ids) and numeric.
const INT8_OID = 20;

function openPostgres(url: string, options: DatabaseOptions): RosterDatabase {
  const timeout = options.statementTimeoutMs ?? 0;
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    // Sent at connection start-up: applies to every statement on every pooled connection.
    ...(timeout > 0 ? { statement_timeout: timeout } : {}),
    // Return bigint as a JS number (counts and log ids stay far below 2^53), so both
    // dialects hand the same types to the adapters. Scoped to this pool, not global.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary'
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection that the server ends (restart, failover, an admin's
  // pg_terminate_backend) emits 'error' on the pool; unhandled, that event would crash
  // the process. The pool has already discarded the client and the next query opens a
  // new connection, so there is nothing else to do here.
  pool.on('error', () => undefined);
  // Connections are recorded in the scope of the request using them while they are held.
  const scoped = {
    async connect(): Promise<pg.PoolClient> {
      const client = await pool.connect();
      const scope = queryScope.getStore();
      if (scope === undefined) return client;
      scope.clients.add(client);
      const release = client.release.bind(client);
      client.release = (error?: Error | boolean) => {
        scope.clients.delete(client);
        client.release = release;
        release(error);
      };
      return client;
    },
    end: () => pool.end(),
  };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: scoped }) });
  return {
    db,
    dialect: postgresDialect.name,
    sqlDialect: postgresDialect,
    close: () => db.destroy(),
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      max: pool.options.max ?? 10,
    }),
    async cancel(scope) {
      const pids = [...scope.clients].map(
        (client) => (client as unknown as { processID: number }).processID,
      );
      if (pids.length === 0) return;
      // On a connection of its own: the pool may be full of the very work to cancel.
      const canceller = new pg.Client({ connectionString: url });
      canceller.on('error', () => undefined);
      try {
        await canceller.connect();
        // Only backends still held by this scope: a connection released meanwhile is
        // back in the pool, maybe serving someone else, and is left alone.
        const held = pids.filter((pid) =>
          [...scope.clients].some(
            (client) => (client as unknown as { processID: number }).processID === pid,
          ),
        );
        if (held.length > 0)
          await canceller.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid', [
            held,
          ]);
      } catch {
        // Best effort: the statement timeout ends the work anyway.
      } finally {
        await canceller.end().catch(() => undefined);
      }
    },
  };
}
