import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { isPostgresUrl } from '../config.js';
import { addAuthStalenessCheck } from '../app/auth-cache.js';
import { startAuthListener, type AuthListener } from './auth-listener.js';
import type { Database } from './db-schema.js';
import { namePreparedStatements } from './pg-prepared.js';
import { foldTransactionEnds } from './pg-fold.js';
import { allowDirectReads } from './sqlite-reads.js';
import { WalCheckpointer, type CheckpointResult } from './wal-checkpointer.js';
import { registerWalSync, WalSync, type FsyncFunction } from './wal-sync.js';
import { EventSequencer, registerEventSequencer } from './event-sequencer.js';
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
  /**
   * Hears the token revocations and admin changes other processes make, and clears this
   * process's cached token lookups on each (auth-cache.ts). PostgreSQL: a connection of
   * its own LISTENs (auth-listener.ts). Absent on SQLite, whose staleness check (PRAGMA
   * data_version) openDatabase registers already.
   */
  listenForAuthChanges?(onError: (error: unknown) => void): AuthListener;
  /**
   * SQLite with SQLITE_COMMIT_SYNC=thread (wal-sync.ts): resolves once every commit this
   * process can read is on disk. Whatever sends data out of the process other than as a
   * request's answer (the webhook dispatcher) awaits it first. Absent when every COMMIT is
   * durable when it returns (PostgreSQL, SQLite with `synchronous = FULL`).
   */
  durable?(): Promise<void>;
  /**
   * With `durable`: resolves once the commits the queries of `scope` could have read are
   * on disk; buildApp's onSend awaits it before any answer leaves (no client ever sees
   * data that a power cut could still take back, as with FULL).
   */
  durableFor?(scope: QueryScope | undefined): Promise<void>;
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
  /**
   * SQLite with SQLITE_COMMIT_SYNC=thread: how many commits of this process the scope's
   * latest query could see (wal-sync.ts); its answer waits until those are durable.
   */
  seenCommits?: number;
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
  return isPostgresUrl(url) ? openPostgres(url, options) : openSqlite(url, options);
}

export interface DatabaseOptions {
  /**
   * PostgreSQL: the server cancels any statement running longer (statement_timeout),
   * so one expensive request cannot hold a pooled connection for minutes; 0 or absent:
   * no limit (the CLI, migrations). The server passes DB_STATEMENT_TIMEOUT_MS.
   */
  readonly statementTimeoutMs?: number;
  /**
   * SQLite: how a COMMIT becomes durable (SQLITE_COMMIT_SYNC). 'full' (the default of
   * openDatabase, so the CLI and migrations): `synchronous = FULL`, COMMIT fsyncs on the
   * calling thread, i.e. on the event loop. 'thread' (the server's default):
   * `synchronous = NORMAL` and an fsync of the WAL on the libuv thread pool that callers
   * and answers wait for (wal-sync.ts, group-commit.ts). Both are durable.
   */
  readonly sqliteCommitSync?: SqliteCommitSync;
  /**
   * SQLite: the first MiB of the file read through a memory map (SQLITE_MMAP_MB; 0 or
   * absent: none). Mapped pages a read touches count in the resident memory.
   */
  readonly sqliteMmapMb?: number;
  /** Test seam: the fsync used in 'thread' mode (node:fs fsync on the thread pool). */
  readonly fsync?: FsyncFunction;
  /**
   * PostgreSQL: told of a failure of the numbering of committed events scheduled after
   * a write (event-sequencer.ts); the events stay pending, and the next reader or webhook
   * poll numbers them. Ignored when absent.
   */
  readonly onSequencerError?: (error: unknown) => void;
  /** SQLite, commits fsynced off the loop: told of a failed WAL checkpoint (retried a second later). */
  readonly onCheckpointError?: (error: unknown) => void;
  /** Test seams: the WAL size that starts a checkpoint, and how often it is looked at. */
  readonly walCheckpointBytes?: number;
  readonly walCheckpointIntervalMs?: number;
}

/** The WAL size past which the server's SQLite checkpoints (about SQLite's former 10,000 pages). */
const WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024;

export type SqliteCommitSync = 'full' | 'thread';

// Database errors are read in one place (db-errors.ts); re-exported for existing imports.
export { isStatementTimeout, isUniqueViolation } from './db-errors.js';

function openSqlite(url: string, options: DatabaseOptions): RosterDatabase {
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets readers run beside the one writer. An acknowledged SCIM write survives a
  // power cut either way: FULL syncs each commit in COMMIT (on the event loop); 'thread'
  // commits with NORMAL (no fsync) and WalSync fsyncs the WAL on the thread pool before
  // any caller of the commit is answered (wal-sync.ts).
  sqlite.pragma('journal_mode = WAL');
  const offLoop = options.sqliteCommitSync === 'thread' && file !== ':memory:';
  sqlite.pragma(offLoop ? 'synchronous = NORMAL' : 'synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // 64 MiB of page cache (default 2 MiB): the upper levels of the users' indexes stay in
  // memory at 1M users, and a commit's pages need not be read back (docs/benchmarks.md).
  sqlite.pragma('cache_size = -65536');
  // The server's connection (commits fsynced off the loop) never checkpoints inside a
  // commit: a worker thread does, past WAL_CHECKPOINT_BYTES (wal-checkpointer.ts; one such
  // commit took 220 ms on the event loop). Elsewhere (the CLI) SQLite checkpoints every
  // 10,000 pages (~40 MiB) rather than 1,000: fewer checkpoints, each writing back pages
  // that many commits touched. Durability is unchanged either way.
  const checkpointBytes = options.walCheckpointBytes ?? WAL_CHECKPOINT_BYTES;
  const checkpointer = offLoop
    ? new WalCheckpointer(resolve(file), {
        thresholdBytes: checkpointBytes,
        intervalMs: options.walCheckpointIntervalMs ?? 1000,
        onError: options.onCheckpointError ?? (() => undefined),
        // The tail of the WAL, between two statements of this connection.
        checkpointHere: () =>
          sqlite.open && !sqlite.inTransaction
            ? (sqlite.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0]
            : undefined,
      })
    : undefined;
  if (checkpointer !== undefined) {
    sqlite.pragma('wal_autocheckpoint = 0');
    // Once the worker copied everything, the next commit starts the WAL over and cuts the
    // file down to a quarter of the threshold: its size is again what is left to copy.
    sqlite.pragma(`journal_size_limit = ${Math.floor(checkpointBytes / 4)}`);
  } else sqlite.pragma('wal_autocheckpoint = 10000');
  // Read pages through a memory map instead of a read() into the page cache per page: a
  // list page touches ~200 pages scattered over the file (100 rows, their team
  // memberships), which cost more than rendering the page at 100k users
  // (docs/benchmarks.md, "List pages: rendering"). Writes still go through the WAL.
  const mmapMb = options.sqliteMmapMb ?? 0;
  if (file !== ':memory:' && mmapMb > 0) sqlite.pragma(`mmap_size = ${mmapMb * 1024 * 1024}`);
  // SQLite's lower() folds ASCII only; the `*_lc` columns hold JS toLowerCase(), so the
  // filter compiler lowers values with the same function to compare like with like.
  sqlite.function('scim_lower', { deterministic: true }, (value: unknown) =>
    value === null || value === undefined ? null : String(value).toLowerCase(),
  );
  const walSync = offLoop
    ? new WalSync(
        `${resolve(file)}-wal`,
        () => sqlite.pragma('data_version', { simple: true }) as number,
        options.fsync,
      )
    : undefined;
  const statements = withStatementCache(sqlite, walSync);
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: statements.database }),
  });
  if (walSync !== undefined) {
    registerWalSync(db, walSync);
    // The tail a checkpoint could not copy while a transaction was open: right after the
    // next commit (under a steady write load one is nearly always open).
    if (checkpointer !== undefined) walSync.afterCommit = () => checkpointer.commitEnded();
  }
  // Read-only single statements of the stores skip Kysely's executor when they can
  // (sqlite-reads.ts); through the same tracked statements, so their answers wait for the
  // fsync of what they read like any other.
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
    ...(checkpointer !== undefined ? { checkpointer } : {}),
    close: async () => {
      removeCheck();
      await checkpointer?.close();
      await walSync?.close();
      await db.destroy();
    },
    ...(walSync !== undefined
      ? {
          durable: () => walSync.whenAllDurable(),
          durableFor: (scope: QueryScope | undefined) =>
            walSync.whenDurable(scope === undefined ? walSync.committed : (scope.seenCommits ?? 0)),
        }
      : {}),
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
function withStatementCache(
  sqlite: SqliteDatabase.Database,
  walSync?: WalSync,
): {
  database: SqliteDatabase.Database;
  prepare: (source: string) => SqliteDatabase.Statement;
} {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const schemaVersionOf = sqlite.prepare('PRAGMA schema_version').pluck();
  const schemaVersion = () => schemaVersionOf.get() as number;
  const prepareNew = (source: string) =>
    new TrackedStatement(
      sqlite.prepare(source),
      sqlite,
      walSync,
      schemaVersion,
    ) as unknown as SqliteDatabase.Statement;
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

/**
 * A prepared statement as the stores use it. With a WalSync, it tells it when it ended a
 * write transaction: an autocommitted write, or the COMMIT (RELEASE, ROLLBACK: harmless
 * extra counts) that closed a transaction; and it records, in the query scope of the
 * request running it, how many commits the statement could see: that request's answer
 * waits for their fsync.
 *
 * A reader's rows are objects keyed by column name, as better-sqlite3 makes them, but
 * built here from its raw arrays: better-sqlite3 sets each property through V8's C++ API,
 * which cost 2-4 us more per row than objects of one shape built in JavaScript (a page of
 * 100 users: 0.2-0.4 ms of a statement of 0.6-0.8 ms; docs/benchmarks.md, "Row objects
 * built in JavaScript"). A later column of the same name wins, as in better-sqlite3. The
 * column names are taken again when the schema changed (SQLite then re-prepares the
 * statement, and `users.*` may have gained a column another process added).
 * Only what Kysely's SQLite driver uses (`reader`, `all`, `run`, `iterate`).
 */
class TrackedStatement {
  readonly reader: boolean;
  private readonly writes: boolean;
  /** A reader's column names, in order, as of `schema`. */
  private names: readonly string[] = [];
  private schema = -1;

  constructor(
    private readonly statement: SqliteDatabase.Statement,
    private readonly sqlite: SqliteDatabase.Database,
    private readonly walSync: WalSync | undefined,
    private readonly schemaVersion: () => number,
  ) {
    this.reader = statement.reader;
    this.writes = !statement.readonly;
    // Only this wrapper runs the statement: its rows stay arrays, made objects in objectOf.
    if (this.reader) statement.raw(true);
  }

  all(...parameters: unknown[]): unknown[] {
    const inTransaction = this.sqlite.inTransaction;
    const before = this.schemaBefore(inTransaction);
    const rows = this.statement.all(...parameters);
    this.after(inTransaction);
    if (this.reader && rows.length > 0) {
      this.checkNames(this.schemaAfter(before), (rows[0] as unknown[]).length);
      for (let i = 0; i < rows.length; i++) rows[i] = this.objectOf(rows[i]);
    }
    return rows;
  }

  /**
   * The schema's version the statement runs under. Outside a transaction it is read
   * before the statement (names taken under it are never newer than the columns the
   * statement answers with). Inside one it is read after, in the transaction's own
   * snapshot: read before, it would open a read snapshot ahead of the transaction's first
   * write (an INSERT ... RETURNING is a reader), and that write would then fail at once
   * with "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another process committed
   * in between, instead of waiting its turn.
   */
  private schemaBefore(inTransaction: boolean): number | undefined {
    return this.reader && !inTransaction ? this.schemaVersion() : undefined;
  }

  private schemaAfter(before: number | undefined): number {
    if (before !== undefined) return before;
    return this.sqlite.inTransaction ? this.schemaVersion() : -1;
  }

  /** Takes the column names again when the schema changed or the rows do not fit them. */
  private checkNames(schema: number, width: number): void {
    if (schema === this.schema && width === this.names.length) return;
    this.names = this.statement.columns().map((c) => c.name);
    this.schema = schema;
  }

  private objectOf(values: unknown): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    const names = this.names;
    for (let i = 0; i < names.length; i++) row[names[i]!] = (values as unknown[])[i];
    return row;
  }

  run(...parameters: unknown[]): SqliteDatabase.RunResult {
    const inTransaction = this.sqlite.inTransaction;
    const result = this.statement.run(...parameters);
    this.after(inTransaction);
    return result;
  }

  *iterate(...parameters: unknown[]): IterableIterator<unknown> {
    const inTransaction = this.sqlite.inTransaction;
    try {
      const before = this.schemaBefore(inTransaction);
      let checked = false;
      for (const values of this.statement.iterate(...parameters)) {
        if (!this.reader) {
          yield values;
          continue;
        }
        if (!checked) this.checkNames(this.schemaAfter(before), (values as unknown[]).length);
        checked = true;
        yield this.objectOf(values);
      }
    } finally {
      this.after(inTransaction);
    }
  }

  private after(wasInTransaction: boolean): void {
    const walSync = this.walSync;
    if (walSync === undefined) return;
    if (!this.sqlite.inTransaction && (wasInTransaction || this.writes)) walSync.markCommitted();
    const scope = queryScope.getStore();
    if (scope !== undefined) scope.seenCommits = walSync.committed;
  }
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
    // Connections are kept once opened (pg-pool closes idle ones after 10 s by default): a
    // new connection costs a backend's start-up (30-50 ms measured here under load) and
    // then its first statements plan against empty catalog caches and re-prepare the named
    // statements (10-30 ms more), which a light load (a member change every few seconds)
    // met again and again as its p99. At most POOL_SIZE per process, as before.
    idleTimeoutMillis: 0,
    // Idle connections do not keep the process alive: a CLI command that ends without
    // closing its database still exits (the server's listening socket keeps it running).
    allowExitOnIdle: true,
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
  // Registered fixed-text statements run as named prepared statements (pg-prepared.ts);
  // BEGIN and COMMIT go out with the statements next to them (pg-fold.ts).
  pool.on('connect', (client) => {
    namePreparedStatements(client);
    foldTransactionEnds(client);
  });
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
  const sequencer = new EventSequencer(db, options.onSequencerError ?? (() => undefined));
  registerEventSequencer(db, sequencer);
  return {
    db,
    dialect: postgresDialect.name,
    sqlDialect: postgresDialect,
    // Numbering scheduled after the last commits ends first: nothing is left pending
    // that this process committed and could number.
    close: async () => {
      await sequencer.idle();
      await db.destroy();
    },
    listenForAuthChanges: (onError) => startAuthListener(url, onError),
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
