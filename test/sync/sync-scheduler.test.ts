import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAdmin } from '../../src/app/accounts.js';
import { SyncJobs } from '../../src/app/sync-jobs.js';
import { issueToken } from '../../src/app/tokens.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { openDatabase, type RosterDatabase } from '../../src/storage/connect.js';
import type { SyncTables } from '../../src/storage/sync-store.js';
import { createStores } from '../../src/storage/stores.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from '../helpers/databases.js';

describe.each(DATABASE_KINDS)('roster serve runs scheduled sync jobs (%s)', (kind) => {
  let testDb: TestDatabase;
  let server: RunningServer;
  let database: RosterDatabase;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roster-sync-schedule-'));
    process.env['ROSTER_SYNC_SOURCE_DIR'] = dir;
    process.env['ROSTER_SYNC_SCHEDULER_MS'] = '100';
    testDb = await createTestDatabase(kind);
    server = await startServer(
      loadConfig({ PORT: '0', DATABASE_URL: testDb.url, LOG_LEVEL: 'silent' }),
    );
    database = await openDatabase(testDb.url);
  });
  afterAll(async () => {
    await server.close();
    await database.close();
    await testDb.dispose();
    await rm(dir, { recursive: true, force: true });
    delete process.env['ROSTER_SYNC_SCHEDULER_MS'];
  });

  it('runs a job once when its next run is due, then schedules the next one', async () => {
    const account = await createAccount(createStores(database), { name: 'Acme' });
    await createAdmin(createStores(database), {
      accountId: account.id,
      email: 'admin@acme.example',
      password: 'correct horse battery',
    });
    const token = await issueToken(createStores(database), {
      accountId: account.id,
      type: 'scim',
      name: 'engine',
    });
    await mkdir(join(dir, account.id));
    await writeFile(
      join(dir, account.id, 'people.json'),
      JSON.stringify({ users: [{ objectId: 'u1', userPrincipalName: 'ada@acme.example' }] }),
    );
    const tenantUrl = `${server.url}/api/v1/scim/azure/${account.id}`;
    // Defined as the admin API does (same rules), with a 1-minute schedule: not due yet.
    const jobs = new SyncJobs(createStores(database), { publicUrl: () => server.url });
    const { job } = await jobs.put(account.id, 'people', {
      source: { type: 'json', path: 'people.json' },
      target: { url: tenantUrl, token: token.token },
      scheduleMinutes: 1,
    });
    expect(job.scheduleMinutes).toBe(1);
    expect(job.nextRunAt).not.toBeNull();
    const db = database.db as unknown as Kysely<SyncTables>;
    const id = `${account.id}.people`;
    const cycles = async () =>
      db.selectFrom('sync_cycles').selectAll().where('job_id', '=', id).execute();
    expect(await cycles()).toEqual([]);

    // Time is driven through the database: the next run is now due.
    const due = new Date(Date.now() - 1000).toISOString();
    await db.updateTable('sync_jobs').set({ next_run_at: due }).where('id', '=', id).execute();
    let done = await cycles();
    for (let i = 0; i < 400 && !done.some((c) => c.status === 'succeeded'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      done = await cycles();
    }
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ kind: 'initial', status: 'succeeded' });
    const row = await db
      .selectFrom('sync_jobs')
      .select(['next_run_at', 'lease_owner'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    // The next run is about a minute after the claim: in the future, not run again now.
    expect(row.next_run_at! > new Date().toISOString()).toBe(true);
    const users = await fetch(`${tenantUrl}/Users`, {
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(((await users.json()) as { totalResults: number }).totalResults).toBe(1);
    // Nothing is due any more: the claim moved the next run a minute on.
    expect(await jobs.runDue(new Date())).toEqual([]);
    await jobs.close();
  });
});
