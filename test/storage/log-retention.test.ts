import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProvisioningLogRetention, type StorableLogEntry } from '../../src/app/provisioning-log.js';
import type { RosterDatabase } from '../../src/storage/connect.js';
import { createStores } from '../../src/storage/stores.js';
import { DATABASE_KINDS, openTestDatabase, type OpenTestDatabase } from '../helpers/databases.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse('2026-06-30T12:00:00.000Z');

function entry(accountId: string, daysAgo: number, n: number): StorableLogEntry {
  return {
    accountId,
    at: new Date(NOW - daysAgo * DAY + n).toISOString(),
    tokenId: null,
    method: 'GET',
    path: `/api/v1/scim/azure/${accountId}/Users/u${n}`,
    status: 200,
    resourceType: 'User',
    resourceId: `u${n}`,
    durationMs: 1,
    change: null,
    error: null,
    source: 'scim',
  };
}

/**
 * The provisioning log keeps LOG_RETENTION_DAYS of entries (src/app/provisioning-log.ts,
 * ProvisioningLogRetention): older entries of every account go, oldest first, in bounded
 * statements; newer ones stay; a retention of 0 keeps everything.
 */
describe.each(DATABASE_KINDS)('provisioning log retention (%s)', (kind) => {
  let testDb: OpenTestDatabase;
  let database: RosterDatabase;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    database = testDb.database;
  });
  afterAll(async () => {
    await testDb?.dispose();
  });
  beforeEach(async () => {
    await database.db.deleteFrom('scim_log').execute();
  });

  const ages = async () =>
    (
      await database.db.selectFrom('scim_log').select(['account_id', 'at']).orderBy('id').execute()
    ).map((r) => `${r.account_id} ${Math.round((NOW - Date.parse(r.at)) / DAY)}`);

  it('deletes among the oldest entries of every account those past the cut-off, a batch at a time', async () => {
    const stores = createStores(database);
    // Stored in time order, as the log writer stores them: 40 and 31 days old, then 29 and 1.
    const old = [...Array(7).keys()].map((n) => entry(n % 2 === 0 ? 'a' : 'b', 40, n));
    const older = [...Array(3).keys()].map((n) => entry('b', 31, n));
    const recent = [entry('a', 29, 0), entry('b', 1, 1)];
    await stores.provisioningLog.insert([...old, ...older, ...recent]);
    const before = new Date(NOW - 30 * DAY).toISOString();

    const ids = (await database.db.selectFrom('scim_log').select('id').orderBy('id').execute()).map(
      (r) => Number(r.id),
    );
    const first = await stores.provisioningLog.prune(before, 4);
    expect(first).toEqual({ deleted: 4, lastDeleted: ids[3], done: false });
    // Each call goes on from the last id the previous one deleted.
    const second = await stores.provisioningLog.prune(before, 4, first.lastDeleted);
    expect(second).toEqual({ deleted: 4, lastDeleted: ids[7], done: false });
    expect(await ages()).toEqual(['b 31', 'b 31', 'a 29', 'b 1']);
    // The last old ones, then a newer entry: done.
    const third = await stores.provisioningLog.prune(before, 4, second.lastDeleted);
    expect(third).toEqual({ deleted: 2, lastDeleted: ids[9], done: true });
    expect(await stores.provisioningLog.prune(before, 4, third.lastDeleted)).toEqual({
      deleted: 0,
      lastDeleted: undefined,
      done: true,
    });
    expect(await ages()).toEqual(['a 29', 'b 1']);
  });

  it('prunes in batches until nothing past the retention is left, and not at all with 0 days', async () => {
    const stores = createStores(database);
    await stores.provisioningLog.insert([
      ...[...Array(25).keys()].map((n) => entry(`acct-${n % 3}`, 45, n)),
      ...[...Array(5).keys()].map((n) => entry(`acct-${n % 3}`, 2, n)),
    ]);
    const keepAll = new ProvisioningLogRetention(stores, {
      retentionDays: 0,
      onError: (error) => {
        throw error;
      },
      now: () => NOW,
    });
    expect(await keepAll.pruneNow()).toBe(0);
    expect(await ages()).toHaveLength(30);

    const retention = new ProvisioningLogRetention(stores, {
      retentionDays: 30,
      batch: 10,
      onError: (error) => {
        throw error;
      },
      now: () => NOW,
    });
    expect(await retention.pruneNow()).toBe(25);
    expect(await ages()).toEqual(['acct-0 2', 'acct-1 2', 'acct-2 2', 'acct-0 2', 'acct-1 2']);
    await retention.stop();
  });

  it('start() prunes at once and then every interval; a failed pass goes to onError; stop() ends it', async () => {
    const stores = createStores(database);
    await stores.provisioningLog.insert([entry('a', 45, 1), entry('a', 1, 2)]);
    const errors: unknown[] = [];
    let clock = NOW;
    const retention = new ProvisioningLogRetention(stores, {
      retentionDays: 30,
      intervalMs: 20,
      onError: (error) => errors.push(error),
      now: () => clock,
    });
    retention.start();
    await expect.poll(ages, { timeout: 5_000 }).toEqual(['a 1']);
    // Forty days later, the next pass (a minute later; here 20 ms) finds it past retention too.
    await stores.provisioningLog.insert([entry('b', 0, 3)]);
    clock = NOW + 40 * DAY;
    await expect.poll(ages, { timeout: 5_000 }).toEqual([]);
    await retention.stop();
    await stores.provisioningLog.insert([entry('c', 60, 4)]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await ages()).toEqual(['c 60']);
    expect(errors).toEqual([]);

    // A database that cannot prune (here its log table is gone): reported, not thrown.
    const broken = await openTestDatabase(kind);
    try {
      await broken.database.db.schema.dropTable('scim_log').execute();
      const failing = new ProvisioningLogRetention(createStores(broken.database), {
        retentionDays: 30,
        intervalMs: 20,
        onError: (error) => errors.push(error),
        now: () => NOW,
      });
      failing.start();
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThan(0);
      await failing.stop();
      expect(String(errors[0])).toMatch(/scim_log/);
    } finally {
      await broken.dispose();
    }
  });

  it('reads the log by time through an index without the dropped (account_id, at) one', async () => {
    const names = await indexNames(database);
    expect(names).not.toContain('scim_log_account_id_at_idx');
    expect(names).toContain('scim_log_account_at_status_idx');
    if (kind !== 'sqlite') return;
    const plan = await sql<{
      detail: string;
    }>`EXPLAIN QUERY PLAN SELECT substr(at, 1, 13), count(*) FROM scim_log WHERE account_id = ${'a'} AND at >= ${'2026-06-01'} GROUP BY substr(at, 1, 13)`.execute(
      database.db,
    );
    expect(plan.rows.map((r) => r.detail).join('\n')).toMatch(
      /USING COVERING INDEX scim_log_account_at_status_idx \(account_id=\? AND at>\?\)/,
    );
  });
});

async function indexNames(database: RosterDatabase): Promise<string[]> {
  if (database.dialect === 'sqlite') {
    const rows = await sql<{
      name: string;
    }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'scim_log'`.execute(
      database.db,
    );
    return rows.rows.map((r) => r.name);
  }
  const rows = await sql<{
    indexname: string;
  }>`SELECT indexname FROM pg_indexes WHERE tablename = 'scim_log' AND schemaname = current_schema()`.execute(
    database.db,
  );
  return rows.rows.map((r) => r.indexname);
}
