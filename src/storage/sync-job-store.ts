import type { Kysely, Selectable } from 'kysely';
import type { StoredSyncJob, SyncJobStore } from '../app/sync-jobs.js';
import type { Database } from './db-schema.js';
import { KyselySyncStore, parseHealth, type SyncTables } from './sync-store.js';

type JobRow = Selectable<SyncTables['sync_jobs']>;

/** The engine's state plus the admin API's jobs, on SQLite or PostgreSQL. */
export class KyselySyncJobStore extends KyselySyncStore implements SyncJobStore {
  private readonly jobs: Kysely<SyncTables>;

  constructor(private readonly roster: Kysely<Database>) {
    super(roster);
    this.jobs = roster as unknown as Kysely<SyncTables>;
  }

  async accountRegion(accountId: string): Promise<string | undefined> {
    const row = await this.roster
      .selectFrom('accounts')
      .select('region')
      .where('id', '=', accountId)
      .executeTakeFirst();
    return row?.region;
  }

  async jobIds(accountId: string): Promise<string[]> {
    const rows = await this.jobs
      .selectFrom('sync_jobs')
      .select('id')
      .where('account_id', '=', accountId)
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  }

  async job(id: string): Promise<StoredSyncJob | undefined> {
    const row = await this.jobs
      .selectFrom('sync_jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : toStoredJob(row);
  }

  async assignJob(
    id: string,
    fields: { accountId: string; token: string; nextRunAt: string },
  ): Promise<void> {
    await this.jobs
      .updateTable('sync_jobs')
      .set({ account_id: fields.accountId, token: fields.token, next_run_at: fields.nextRunAt })
      .where('id', '=', id)
      .execute();
  }

  async removeJob(id: string): Promise<void> {
    // Links, cycles and the log go with the job (ON DELETE CASCADE, and explicitly for SQLite).
    for (const table of [
      'sync_log',
      'sync_links',
      'sync_cycles',
      'sync_source_cache',
      'sync_escrows',
    ] as const)
      await this.jobs.deleteFrom(table).where('job_id', '=', id).execute();
    await this.jobs.deleteFrom('sync_jobs').where('id', '=', id).execute();
  }

  async dueJobs(now: string, limit: number): Promise<StoredSyncJob[]> {
    const rows = await this.jobs
      .selectFrom('sync_jobs')
      .selectAll()
      .where('next_run_at', '<=', now)
      .where('token', 'is not', null)
      .orderBy('next_run_at')
      .limit(limit)
      .execute();
    return rows.map(toStoredJob);
  }

  async claimRun(id: string, expected: string | null, next: string): Promise<boolean> {
    if (expected === null) return false; // a job without a schedule is never due
    const claimed = await this.jobs
      .updateTable('sync_jobs')
      .set({ next_run_at: next })
      .where('id', '=', id)
      .where('next_run_at', '=', expected)
      .executeTakeFirst();
    return Number(claimed.numUpdatedRows) === 1;
  }
}

function toStoredJob(row: JobRow): StoredSyncJob {
  return {
    id: row.id,
    accountId: row.account_id,
    config: row.config,
    token: row.token,
    nextRunAt: row.next_run_at,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    health: parseHealth(row.health ?? null),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
