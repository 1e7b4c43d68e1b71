import { closeSync, fstatSync, openSync, statSync, fsync as fsyncCallback } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Database } from './db-schema.js';

/** Flushes a file descriptor to stable storage without blocking the event loop. */
export type FsyncFunction = (fd: number) => Promise<void>;

/** node:fs fsync, run on the libuv thread pool. */
export const threadPoolFsync: FsyncFunction = (fd) =>
  new Promise((resolve, reject) =>
    fsyncCallback(fd, (error) => (error ? reject(error) : resolve())),
  );

/**
 * The durability of SQLite commits when COMMIT itself does not fsync
 * (`synchronous = NORMAL`, SQLITE_COMMIT_SYNC=thread; docs/architecture.md).
 *
 * In WAL mode with NORMAL, COMMIT appends the transaction's frames to the `-wal` file
 * (into the OS page cache) and returns: the commit is visible to every reader at once, but
 * a power cut may lose it. This class makes it durable off the event loop: `fsync(2)` of
 * the `-wal` file on the libuv thread pool. Every commit of this connection bumps
 * `committed` (counted by the statement wrapper in connect.ts); `whenDurable(n)` resolves
 * once an fsync that STARTED after commit `n` returned, i.e. once commits 1..n are on disk.
 *
 * - At most one fsync is in flight. Waiters for later commits wait for the next one,
 *   which covers every commit made meanwhile (coalescing: under load one fsync makes many
 *   group-commit batches durable, and the event loop keeps parsing and executing while it
 *   runs).
 * - A failed fsync poisons the sync for good: every waiter, present and future, is
 *   rejected with that error. After an fsync error the kernel may have dropped the dirty
 *   pages and a retried fsync could succeed without them being written (PostgreSQL's
 *   "fsyncgate"); nothing acknowledged after that could be trusted. Restart the process.
 * - Commits by OTHER processes on the same file (a second server, the CLI) change
 *   `PRAGMA data_version`; `whenAllDurable()` (what the webhook dispatcher awaits before
 *   sending events out) fsyncs for those too, so a reader never sends out another
 *   process's commit that is not on disk yet. fsync acts on the file, whichever process's
 *   descriptor is used.
 */
export class WalSync {
  /** Commits made by this connection so far (a counter, not an SQLite number). */
  committed = 0;
  /** Every commit up to this one is durable. */
  private durableUpTo = 0;
  private inFlight = false;
  private failure: { error: unknown } | undefined;
  private waiters: { target: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private fd: number | undefined;
  private fdIno: number | undefined;
  private syncedDataVersion: number;

  constructor(
    private readonly walPath: string,
    private readonly dataVersion: () => number,
    private readonly fsync: FsyncFunction = threadPoolFsync,
  ) {
    this.syncedDataVersion = dataVersion();
  }

  /**
   * Runs after each commit of this connection, on its thread, with no transaction open
   * (the WAL checkpointer copies the WAL's last frames there: WalCheckpointer.commitEnded).
   */
  afterCommit: (() => void) | undefined;

  /** Called by the statement wrapper after each statement that ended a write transaction. */
  markCommitted(): void {
    this.committed++;
    this.afterCommit?.();
  }

  /** True when every commit of this connection so far is durable. */
  get isDurable(): boolean {
    return this.durableUpTo >= this.committed && this.failure === undefined;
  }

  /** Resolves once commits 1..target of this connection are durable (default: all so far). */
  whenDurable(target: number = this.committed): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (target <= this.durableUpTo) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.kick();
    });
  }

  /**
   * Resolves once everything this connection can read is durable: its own commits and
   * those other processes made on the file (their `data_version` change).
   */
  whenAllDurable(): Promise<void> {
    if (this.failure === undefined && this.dataVersion() !== this.syncedDataVersion) {
      // Someone else committed: one more fsync, whatever our own counter says.
      this.committed++;
    }
    return this.whenDurable();
  }

  /** Closes the descriptor once nothing is in flight; the caller closes SQLite after. */
  async close(): Promise<void> {
    if (this.committed > this.durableUpTo && this.failure === undefined)
      await this.whenDurable().catch(() => undefined);
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private kick(): void {
    if (this.inFlight || this.waiters.length === 0) return;
    this.inFlight = true;
    // Every commit made before this line is in the OS page cache: the fsync covers it.
    const covers = this.committed;
    const dataVersion = this.dataVersion();
    let fd: number | undefined;
    try {
      fd = this.walFd();
    } catch (error) {
      this.fail(error);
      return;
    }
    const synced = fd === undefined ? Promise.resolve() : this.fsync(fd);
    synced.then(
      () => {
        this.inFlight = false;
        if (covers > this.durableUpTo) this.durableUpTo = covers;
        this.syncedDataVersion = dataVersion;
        const waiting = this.waiters;
        this.waiters = [];
        for (const waiter of waiting) {
          if (waiter.target <= covers) waiter.resolve();
          else this.waiters.push(waiter);
        }
        this.kick();
      },
      (error: unknown) => this.fail(error),
    );
  }

  private fail(error: unknown): void {
    this.inFlight = false;
    this.failure = { error };
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /**
   * The `-wal` file's descriptor, opened once and reopened when the file was replaced (a
   * last connection of another process deleted it at close and a new one was created).
   * Undefined when there is no WAL file (nothing was ever committed through it).
   */
  private walFd(): number | undefined {
    const current = statSync(this.walPath, { throwIfNoEntry: false });
    if (current === undefined) return undefined;
    if (this.fd !== undefined && current.ino === this.fdIno) return this.fd;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(this.walPath, 'r');
    this.fdIno = fstatSync(this.fd).ino;
    return this.fd;
  }
}

const syncs = new WeakMap<Kysely<Database>, WalSync>();

/** Registers the WAL sync of a SQLite handle (connect.ts). */
export function registerWalSync(db: Kysely<Database>, sync: WalSync): void {
  syncs.set(db, sync);
}

/** The WAL sync of this handle: undefined when COMMIT is durable by itself (FULL, PostgreSQL). */
export function walSyncOf(db: Kysely<Database>): WalSync | undefined {
  return syncs.get(db);
}
