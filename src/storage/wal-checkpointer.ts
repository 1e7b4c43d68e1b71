import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

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
 * checkpointer looks at the WAL's size every `intervalMs`; past `thresholdBytes` it has a
 * worker thread, with a connection of its own, run `PRAGMA wal_checkpoint(PASSIVE)`: it
 * copies what no reader still needs, without waiting for or blocking the server's
 * readers and writer, and SQLite starts the WAL again from its beginning at a later
 * commit once everything was copied. The checkpoint's connection uses
 * `synchronous = FULL` (the database file is fsynced before the WAL is reused), so
 * durability is SQLite's own. The worker starts on the first checkpoint (a small
 * database never starts one) and ends with the database.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Checkpoints run, for tests and metrics. */
  checkpoints = 0;

  constructor(
    private readonly file: string,
    private readonly options: {
      readonly thresholdBytes: number;
      readonly intervalMs: number;
      readonly onError: (error: unknown) => void;
    },
  ) {
    this.timer = setInterval(() => void this.check(), options.intervalMs);
    this.timer.unref();
  }

  /** Checkpoints now when the WAL is past the threshold; resolves when done. */
  async check(): Promise<void> {
    if (this.closed || this.running !== undefined) return this.running;
    const size = await stat(`${this.file}-wal`).then(
      (s) => s.size,
      () => 0,
    );
    if (size < this.options.thresholdBytes || this.closed || this.running !== undefined) return;
    this.running = this.checkpoint()
      .catch((error: unknown) => this.options.onError(error))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private checkpoint(): Promise<void> {
    const worker = (this.worker ??= this.startWorker());
    return new Promise((resolve, reject) => {
      const onMessage = (message: { ok: boolean; error?: string }) => {
        worker.off('error', onError);
        if (message.ok) {
          this.checkpoints++;
          resolve();
        } else reject(new Error(`WAL checkpoint failed: ${message.error}`));
      };
      const onError = (error: unknown) => {
        worker.off('message', onMessage);
        this.worker = undefined;
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      worker.once('message', onMessage);
      worker.once('error', onError);
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

/** The worker: one connection, one PASSIVE checkpoint per message. */
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
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String(error && error.message || error) });
  }
});
`;
