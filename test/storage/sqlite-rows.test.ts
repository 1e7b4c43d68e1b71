import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import { readRows } from '../../src/storage/sqlite-reads.js';

const require = createRequire(import.meta.url);

/**
 * SQLite rows are built in JavaScript from better-sqlite3's raw arrays (connect.ts,
 * TrackedStatement): they must be the objects better-sqlite3 itself would have made, in
 * both commit modes, through Kysely and through the direct reads, and follow a column
 * another process adds while statements are cached.
 */
describe.each(['full', 'thread'] as const)('SQLite row objects (commit sync %s)', (mode) => {
  let dir: string;
  let file: string;
  let database: RosterDatabase;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-rows-'));
    file = join(dir, 'rows.db');
    database = await openDatabase(`sqlite:${file}`, { sqliteCommitSync: mode });
    await sql`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, blob BLOB, note TEXT)`.execute(
      database.db,
    );
    await sql`INSERT INTO t (name, score, blob, note) VALUES ('ada', 1.5, x'0102', NULL), ('grace', 2, NULL, 'n')`.execute(
      database.db,
    );
  });

  afterEach(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What better-sqlite3 answers on a connection of its own. */
  function reference(text: string, parameters: unknown[] = []): unknown[] {
    const own = new SqliteDatabase(file, { readonly: true });
    try {
      return own.prepare(text).all(...parameters);
    } finally {
      own.close();
    }
  }

  it('answers what better-sqlite3 answers: names, aliases, repeated names, types, no rows', async () => {
    const texts: [string, unknown[]][] = [
      ['SELECT * FROM t ORDER BY id', []],
      ['SELECT t.*, t.name AS alias, 7 AS n FROM t WHERE id = ?', [1]],
      ['SELECT name, name, score AS name FROM t ORDER BY id', []],
      ['SELECT count(*) AS n, NULL AS empty FROM t', []],
      ['SELECT * FROM t WHERE id = ?', [99]],
    ];
    for (const [text, parameters] of texts) {
      const expected = reference(text, parameters);
      // Twice: from a fresh statement, then from the cached one.
      for (let round = 0; round < 2; round++) {
        expect(await readRows(database.db, text, parameters)).toEqual(expected);
        const viaKysely = await database.db.executeQuery({
          sql: text,
          parameters,
          query: { kind: 'RawNode' } as never,
          queryId: { queryId: 'rows-test' },
        });
        expect(viaKysely.rows).toEqual(expected);
      }
    }
  });

  it('rows of a write with RETURNING are objects too', async () => {
    const result = await sql<{
      id: number;
      name: string;
    }>`INSERT INTO t (name) VALUES ('linus') RETURNING id, name`.execute(database.db);
    expect(result.rows).toEqual([{ id: 3, name: 'linus' }]);
  });

  it('follows a column another process adds while its statement is cached', async () => {
    const text = 'SELECT * FROM t WHERE id = ?';
    expect(await readRows(database.db, text, [1])).toEqual([
      { id: 1, name: 'ada', score: 1.5, blob: Buffer.from([1, 2]), note: null },
    ]);
    const other = new SqliteDatabase(file);
    try {
      other.exec(`ALTER TABLE t ADD COLUMN added TEXT DEFAULT 'new'`);
    } finally {
      other.close();
    }
    expect(await readRows(database.db, text, [1])).toEqual([
      { id: 1, name: 'ada', score: 1.5, blob: Buffer.from([1, 2]), note: null, added: 'new' },
    ]);
  });

  it("a transaction whose first statement is INSERT ... RETURNING waits for another process's write lock instead of failing", async () => {
    // Another process holds the write lock for 300 ms, then commits.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
         const db = new D(${JSON.stringify(file)}); db.pragma('busy_timeout = 5000');
         db.exec('BEGIN IMMEDIATE'); db.prepare("INSERT INTO t (name) VALUES ('other')").run();
         process.stdout.write('locked\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
         db.exec('COMMIT'); db.close();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) =>
      holder.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      }),
    );
    const inserted = await database.db.transaction().execute(async (trx) => {
      const result = await sql<{
        id: number;
        name: string;
      }>`INSERT INTO t (name) VALUES ('mine') RETURNING id, name`.execute(trx);
      return result.rows;
    });
    await exited;
    expect(inserted).toEqual([{ id: 4, name: 'mine' }]);
  });
});
