import type { ControlledTransaction, Kysely, Transaction } from 'kysely';
import type { Database } from './db-schema.js';
import { queryScope } from './connect.js';
import { walSyncOf } from './wal-sync.js';

/** Most write transactions one SQLite COMMIT carries. */
export const GROUP_COMMIT_MAX_WORKS = 64;
/** A batch stops taking queued works this long after its BEGIN, so latency stays bounded. */
export const GROUP_COMMIT_MAX_MS = 5;

type Work = (trx: Transaction<Database>) => Promise<unknown>;

interface Queued {
  readonly work: Work;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const SAVEPOINT = 'roster_work';

/**
 * Group commit for SQLite (docs/benchmarks.md). With `synchronous = FULL` every
 * COMMIT waits for an fsync of the WAL, and SQLite has one writer: one transaction per
 * request caps durable writes at one per fsync. Here concurrent write transactions are
 * queued and run one after another inside ONE SQLite transaction, each inside its own
 * SAVEPOINT, and a single COMMIT (one fsync) makes the whole batch durable.
 *
 * - Works run strictly one at a time, in arrival order: each sees exactly the database a
 *   serial execution would show it (the earlier works of its batch included).
 * - A work that throws is rolled back to its savepoint and only its caller is rejected
 *   (at once: none of its writes survive); the others of the batch go on.
 * - No caller's promise resolves before the batch is durable: with `synchronous = FULL`
 *   when its COMMIT has returned; with SQLITE_COMMIT_SYNC=thread (`synchronous = NORMAL`)
 *   when the WAL fsync that covers the COMMIT returned (wal-sync.ts). That fsync runs on
 *   the thread pool while the next batch is parsed and executed on the event loop; at most
 *   one is in flight, the next covers every batch committed meanwhile. If the COMMIT (or
 *   a rollback to a savepoint) fails, every work of the batch is rejected with that error,
 *   and nothing of the batch is stored; if the fsync fails, every work of the batch is
 *   rejected (its data may survive or not: not acknowledged).
 * - A batch takes at most GROUP_COMMIT_MAX_WORKS works and stops taking more
 *   GROUP_COMMIT_MAX_MS after it began; works queued later go to the next batch.
 *
 * The queue is per database handle: every KyselyAccountStore of a server shares it.
 */
export class GroupCommit {
  private readonly queue: Queued[] = [];
  private running = false;

  constructor(private readonly db: Kysely<Database>) {}

  run<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // Start after the current turn of the event loop, once the requests that are already
        // readable have been parsed and have queued their works: they join this batch.
        // Outside the caller's query scope: the works of every request run in this drain,
        // and what they read is covered by their own batch's durability, not a request's.
        queryScope.exit(() => setImmediate(() => void this.drain()));
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.batch();
    } finally {
      this.running = false;
    }
  }

  private async batch(): Promise<void> {
    let trx: ControlledTransaction<Database>;
    try {
      trx = await this.db.startTransaction().execute();
    } catch (error) {
      // No transaction, so no work ran: fail what is queued rather than spin.
      for (const queued of this.queue.splice(0)) queued.reject(error);
      return;
    }
    const done: { queued: Queued; value: unknown }[] = [];
    const began = performance.now();
    let taken = 0;
    let broken: { error: unknown } | undefined;
    let yielded = false;
    while (taken < GROUP_COMMIT_MAX_WORKS && performance.now() - began < GROUP_COMMIT_MAX_MS) {
      if (this.queue.length === 0) {
        // Works run in microtasks, so requests that arrived meanwhile are still unread:
        // let the event loop take one turn, and commit if that brought no new work.
        if (yielded) break;
        yielded = true;
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      yielded = false;
      const queued = this.queue.shift()!;
      taken++;
      let savepoint: ControlledTransaction<Database, [typeof SAVEPOINT]>;
      try {
        savepoint = await trx.savepoint(SAVEPOINT).execute();
      } catch (error) {
        queued.reject(error);
        broken = { error };
        break;
      }
      try {
        const value = await queued.work(savepoint);
        await savepoint.releaseSavepoint(SAVEPOINT).execute();
        done.push({ queued, value });
      } catch (error) {
        try {
          await savepoint.rollbackToSavepoint(SAVEPOINT).execute();
          await savepoint.releaseSavepoint(SAVEPOINT).execute();
        } catch (rollbackError) {
          // SQLite rolled the whole transaction back (I/O error, disk full...): the
          // batch's earlier works are lost too.
          broken = { error: rollbackError };
        }
        queued.reject(error);
        if (broken !== undefined) break;
      }
    }
    if (broken === undefined) {
      try {
        await trx.commit().execute();
      } catch (error) {
        broken = { error };
      }
    }
    if (broken !== undefined) {
      if (!trx.isCommitted && !trx.isRolledBack)
        await trx
          .rollback()
          .execute()
          .catch(() => {});
      for (const { queued } of done) queued.reject(broken.error);
      return;
    }
    const walSync = walSyncOf(this.db);
    if (walSync === undefined) {
      for (const { queued, value } of done) queued.resolve(value);
      return;
    }
    // Not awaited: the next batch runs while this one's fsync is in flight.
    walSync.whenDurable().then(
      () => {
        for (const { queued, value } of done) queued.resolve(value);
      },
      (error: unknown) => {
        for (const { queued } of done) queued.reject(error);
      },
    );
  }
}

const committers = new WeakMap<Kysely<Database>, GroupCommit>();

/** The group-commit queue of this database handle (one per SQLite database a process opens). */
export function groupCommitOf(db: Kysely<Database>): GroupCommit {
  let committer = committers.get(db);
  if (committer === undefined) {
    committer = new GroupCommit(db);
    committers.set(db, committer);
  }
  return committer;
}
