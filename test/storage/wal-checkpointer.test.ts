import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { WalCheckpointer } from '../../src/storage/wal-checkpointer.js';

/**
 * The server's SQLite connection never checkpoints inside a commit (on the event loop):
 * a worker thread does, once the WAL passes a size (src/storage/wal-checkpointer.ts).
 */
describe('SQLite WAL checkpoints off the event loop', () => {
  let dir: string;
  let file: string;
  let database: RosterDatabase | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-ckpt-'));
    file = join(dir, 'ckpt.db');
  });

  afterEach(async () => {
    await database?.close();
    database = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function write(rows: number): Promise<void> {
    for (let i = 0; i < rows; i++)
      await sql`INSERT INTO t (body) VALUES (${'x'.repeat(2000)})`.execute(database!.db);
  }

  it('the server connection does not checkpoint in a commit; the worker does past the threshold, and the data stays', async () => {
    database = await openDatabase(`sqlite:${file}`, {
      sqliteCommitSync: 'thread',
      walCheckpointBytes: 256 * 1024,
      walCheckpointIntervalMs: 3_600_000, // checked by hand below
    });
    const main = database;
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)`.execute(main.db);
    const pragma = await sql<{
      wal_autocheckpoint: number;
    }>`PRAGMA wal_autocheckpoint`.execute(main.db);
    expect(pragma.rows[0]!.wal_autocheckpoint).toBe(0);

    // ~2,000 pages of WAL: SQLite's default (1,000 pages) would have checkpointed in a commit.
    await write(2_000);
    const walBytes = (await stat(`${file}-wal`)).size;
    expect(walBytes).toBeGreaterThan(256 * 1024);

    const checkpointer = (main as unknown as { checkpointer?: WalCheckpointer }).checkpointer;
    expect(checkpointer).toBeInstanceOf(WalCheckpointer);
    const before = (await stat(file)).size;
    await checkpointer!.check();
    // The worker's pass, then the connection's own (nothing was left for it to copy).
    expect(checkpointer!.checkpoints).toBe(2);
    // Every frame copied, into the database file.
    expect(checkpointer!.last).toMatchObject({ busy: 0 });
    expect(checkpointer!.last!.checkpointed).toBe(checkpointer!.last!.log);
    expect(checkpointer!.last!.log).toBeGreaterThan(500);
    expect((await stat(file)).size).toBeGreaterThan(before + 2_000 * 2_000);

    // Below the threshold again (the WAL starts over at the next commit): no checkpoint.
    await write(1);
    await checkpointer!.check();
    expect(checkpointer!.checkpoints).toBe(2);
    const count = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(main.db);
    expect(count.rows[0]!.n).toBe(2_001);
  });

  it('frames the worker cannot copy are left to the connection itself past four times the threshold; copied once readers let go', async () => {
    database = await openDatabase(`sqlite:${file}`, {
      sqliteCommitSync: 'thread',
      walCheckpointBytes: 256 * 1024,
      walCheckpointIntervalMs: 3_600_000,
    });
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)`.execute(database.db);
    const checkpointer = (database as unknown as { checkpointer: WalCheckpointer }).checkpointer;
    // A reader in another connection keeps a snapshot from before the writes: no
    // checkpoint may copy the frames written after it.
    const reader = new SqliteDatabase(file);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM t').get();
      await write(1_000); // ~4 MB of WAL: more than four times the threshold
      await checkpointer.check();
      // Three passes of the worker (no progress), then the connection's own pass.
      expect(checkpointer.checkpoints).toBe(4);
      expect(checkpointer.last!.checkpointed).toBeLessThan(checkpointer.last!.log);
      reader.exec('COMMIT');
    } finally {
      reader.close();
    }
    await checkpointer.check();
    // The worker's pass copies the rest, the connection's own pass finds nothing left.
    expect(checkpointer.checkpoints).toBe(6);
    expect(checkpointer.last!.checkpointed).toBe(checkpointer.last!.log);
  });

  it('a WAL whose checkpoint ends while a transaction is open starts over after that commit, not never', async () => {
    database = await openDatabase(`sqlite:${file}`, {
      sqliteCommitSync: 'thread',
      walCheckpointBytes: 256 * 1024,
      walCheckpointIntervalMs: 3_600_000,
    });
    const main = database;
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)`.execute(main.db);
    const checkpointer = (main as unknown as { checkpointer: WalCheckpointer }).checkpointer;
    await write(1_000); // ~4 MB of WAL
    // A write load never leaves the connection without a transaction for long: one is
    // open while the worker copies the WAL, and it commits after.
    const trx = await main.db.startTransaction().execute();
    await sql`INSERT INTO t (body) VALUES ('in flight')`.execute(trx);
    await checkpointer.check();
    expect(checkpointer.checkpoints).toBe(1); // the worker's pass; the connection's waits
    expect(checkpointer.last!.checkpointed).toBe(checkpointer.last!.log);
    await trx.commit().execute();
    // Right after that commit the connection copied what it added...
    expect(checkpointer.checkpoints).toBe(2);
    expect(checkpointer.last!.checkpointed).toBe(checkpointer.last!.log);
    // ...so the next write starts the WAL over, cut back to a quarter of the threshold.
    await write(1);
    expect((await stat(`${file}-wal`)).size).toBeLessThanOrEqual(64 * 1024);
    const count = await sql<{ n: number }>`SELECT count(*) AS n FROM t`.execute(main.db);
    expect(count.rows[0]!.n).toBe(1_002);
  });

  it('a copy that fails after a commit is reported, not thrown into that commit', async () => {
    const setup = new SqliteDatabase(file);
    setup.pragma('journal_mode = WAL');
    setup.pragma('wal_autocheckpoint = 0');
    setup.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    setup.prepare('INSERT INTO t (body) VALUES (?)').run('x'.repeat(2000));
    const errors: unknown[] = [];
    let here: 'busy' | 'fails' = 'busy';
    const checkpointer = new WalCheckpointer(file, {
      thresholdBytes: 0,
      intervalMs: 3_600_000,
      onError: (error) => errors.push(error),
      checkpointHere: () => {
        if (here === 'busy') return undefined; // a transaction is open
        throw new Error('disk I/O error');
      },
    });
    try {
      await checkpointer.check();
      expect(checkpointer.checkpoints).toBe(1); // the worker's; the connection's is due
      here = 'fails';
      expect(() => checkpointer.commitEnded()).not.toThrow();
      expect(errors.map(String)).toEqual(['Error: disk I/O error']);
      // Tried again at the next round, not after every commit.
      checkpointer.commitEnded();
      expect(errors).toHaveLength(1);
    } finally {
      await checkpointer.close();
      setup.close();
    }
  });

  it('a checkpointer whose database is gone reports the failure and keeps the server going', async () => {
    const errors: unknown[] = [];
    const checkpointer = new WalCheckpointer(join(dir, 'missing.db'), {
      thresholdBytes: 0,
      intervalMs: 3_600_000,
      onError: (error) => errors.push(error),
    });
    try {
      await checkpointer.check();
      expect(errors).toHaveLength(1);
      expect(String(errors[0])).toMatch(/WAL checkpoint failed/);
      expect(checkpointer.checkpoints).toBe(0);
    } finally {
      await checkpointer.close();
    }
  });

  it('the CLI connection (commits fsynced in COMMIT) keeps SQLite checkpointing by itself', async () => {
    database = await openDatabase(`sqlite:${file}`);
    const pragma = await sql<{
      wal_autocheckpoint: number;
    }>`PRAGMA wal_autocheckpoint`.execute(database.db);
    expect(pragma.rows[0]!.wal_autocheckpoint).toBe(10_000);
  });
});
