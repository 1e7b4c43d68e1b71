import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** What `PRAGMA wal_checkpoint` answers: frames in the WAL, frames copied, and whether it was blocked. */
export interface CheckpointResult {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

/** Frames (pages) left after the worker's passes that the connection's own thread may copy. */
const TAIL_FRAMES = 1000;
/** Worker passes per check before the tail is left to the connection's thread. */
const WORKER_PASSES = 3;

/**
 * SQLite WAL checkpoints off the event loop.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses `wal_autocheckpoint`
 * pages: that commit copies the WAL's pages into the database file and fsyncs it, on the
 * thread that committed, which in the server is the event loop every account shares.
 * Measured on a copy of a 100k-user database (3-row write transactions for 15 s,
 * `wal_autocheckpoint = 10000`): commit p50 0.05 ms, but 44 commits over 20 ms and one of
 * 220 ms; with automatic checkpoints off, the slowest was 8 ms (docs/benchmarks.md,
 * "WAL checkpoints off the event loop").
 *
 * The server's connection therefore runs with `wal_autocheckpoint = 0`, and this
 * checkpointer looks at the WAL's size every `intervalMs`. Past `thresholdBytes` a worker
 * thread, with a connection of its own (`synchronous = FULL`: the database file is fsynced
 * before a frame counts as copied), runs `PRAGMA wal_checkpoint(PASSIVE)`: it copies what
 * no reader still needs, without waiting for or blocking the server's reader and writer.
 *
 * SQLite starts the WAL over (and `journal_size_limit` cuts the file back) only at a write
 * that finds every frame copied, and commits made during the worker's pass are not: under
 * a steady write load the WAL would grow for as long as the load lasts. So the worker
 * passes again while more than TAIL_FRAMES are left (at most WORKER_PASSES times), and
 * the last few hundred frames are copied by `checkpointHere`, a PASSIVE checkpoint on the
 * server's own connection, between two of its statements (12–17 ms on the event loop at
 * 1,000 member changes a second, most of it the database file's fsync, instead of a whole
 * WAL's worth). Past four times the threshold (a load the worker
 * cannot keep up with) the connection's thread copies whatever is left. That copy needs
 * no transaction open on the connection; when one is (under a steady write load the
 * group commit nearly always has one), it is made right after the connection's next
 * commit (`commitEnded`). Before, it was skipped, and under 1,000 member changes a second
 * the WAL grew by 20 MB/s for as long as the load lasted (753 MB after 40 s).
 *
 * The worker starts with the first checkpoint (a small database never starts one) and
 * ends with the database; a failure is reported to `onError` and retried at the next
 * interval (a new worker if it died).
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private pending: { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Checkpoint passes that ran (the worker's and the connection's), for tests. */
  checkpoints = 0;
  /** The last pass's answer, for tests. */
  last: CheckpointResult | undefined;
  /** The connection's own pass is due at its next commit (a transaction was open). */
  private tailDue = false;

  constructor(
    private readonly file: string,
    private readonly options: {
      readonly thresholdBytes: number;
      readonly intervalMs: number;
      readonly onError: (error: unknown) => void;
      /** A PASSIVE checkpoint on the server's connection; undefined when it cannot run now (a transaction is open). */
      readonly checkpointHere?: () => CheckpointResult | undefined;
    },
  ) {
    this.timer = setInterval(() => {
      this.check().catch((error: unknown) => this.options.onError(error));
    }, options.intervalMs);
    this.timer.unref();
  }

  /** Checkpoints now when the WAL is past the threshold; resolves when done. */
  async check(): Promise<void> {
    if (this.closed) return;
    if (this.running !== undefined) return this.running;
    const size = await this.walBytes();
    if (size < this.options.thresholdBytes || this.closed || this.running !== undefined) return;
    this.running = this.checkpoint(size)
      .catch((error: unknown) => this.options.onError(error))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private walBytes(): Promise<number> {
    return stat(`${this.file}-wal`).then(
      (s) => s.size,
      () => 0,
    );
  }

  private async checkpoint(size: number): Promise<void> {
    let result: CheckpointResult | undefined;
    for (let pass = 0; pass < WORKER_PASSES && !this.closed; pass++) {
      result = await this.inWorker();
      this.record(result);
      if (result.busy !== 0 || result.log - result.checkpointed <= TAIL_FRAMES) break;
    }
    if (this.closed || result === undefined || result.busy !== 0) return;
    const left = result.log - result.checkpointed;
    const overdue = size >= 4 * this.options.thresholdBytes;
    // Even with every frame copied: under load a commit lands between the worker's pass
    // and the next transaction, which then reads from the WAL and cannot start it over.
    // The connection's own pass, between its commit and its next BEGIN, closes that gap.
    if (left <= TAIL_FRAMES || overdue) this.tailDue = !this.copyHere();
  }

  /**
   * Called right after each commit of the server's connection (no transaction open): makes
   * the connection's own pass that a transaction held up.
   */
  commitEnded(): void {
    if (this.tailDue && !this.closed) this.tailDue = !this.copyHere();
  }

  /**
   * The connection's own pass: false when it cannot run now (a transaction is open). A
   * failure is reported, never thrown (after a commit it would read as that commit's
   * failure), and the next round tries again.
   */
  private copyHere(): boolean {
    let here: CheckpointResult | undefined;
    try {
      here = this.options.checkpointHere?.();
    } catch (error) {
      this.options.onError(error);
      return true;
    }
    if (here === undefined) return this.options.checkpointHere === undefined;
    this.record(here);
    return true;
  }

  private record(result: CheckpointResult): void {
    this.checkpoints++;
    this.last = result;
  }

  private inWorker(): Promise<CheckpointResult> {
    const worker = (this.worker ??= this.startWorker());
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      worker.postMessage('checkpoint');
    });
  }

  private startWorker(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        file: this.file,
      },
    });
    worker.unref();
    worker.on('message', (message: { ok: boolean; result?: CheckpointResult; error?: string }) => {
      const waiter = this.pending.shift();
      if (message.ok) waiter?.resolve(message.result!);
      else waiter?.reject(new Error(`WAL checkpoint failed: ${message.error}`));
    });
    // A worker that fails or ends fails what waits for it; the next check starts another.
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    };
    worker.on('error', (error) => fail(error));
    worker.on('exit', (code) => fail(new Error(`WAL checkpoint worker exited (code ${code})`)));
    return worker;
  }

  /** Stops checking and ends the worker after any checkpoint in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }
}

/** The worker: one connection, one PASSIVE checkpoint per message, its answer sent back. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db;
parentPort.on('message', () => {
  try {
    if (db === undefined) {
      db = new Database(workerData.file, { fileMustExist: true });
      db.pragma('synchronous = FULL');
      db.pragma('wal_autocheckpoint = 0');
    }
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, result });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String((error && error.message) || error) });
  }
});
`;
