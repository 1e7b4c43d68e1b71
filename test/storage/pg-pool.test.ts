import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';

// pg-pool's default closes a connection idle for 10 s; Roster keeps them (connect.ts).
const PG_POOL_DEFAULT_IDLE_MS = 10_000;

describe('the PostgreSQL pool after a quiet spell', () => {
  let testDb: OpenTestDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase('postgres');
  });

  afterAll(async () => {
    await testDb?.dispose();
  });

  /** Backend pids of `n` statements held open at once (so `n` pooled connections). */
  async function backends(n: number): Promise<Set<number>> {
    const rows = await Promise.all(
      Array.from({ length: n }, async () => {
        const result = await sql<{
          pid: number;
        }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`.execute(testDb.database.db);
        return result.rows[0]!.pid;
      }),
    );
    return new Set(rows);
  }

  it('keeps its connections: the same backends answer, with no new start-up to pay', async () => {
    const before = await backends(3);
    expect(before.size).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, PG_POOL_DEFAULT_IDLE_MS + 1_500));
    expect(testDb.database.poolStats?.().total).toBe(3);
    const after = await backends(3);
    expect([...after].sort()).toEqual([...before].sort());
  }, 30_000);
});
