import { randomUUID } from 'node:crypto';
import type { Generated, Kysely } from 'kysely';
import { HEALTHY } from '../sync/state.js';
import type {
  CycleKind,
  CycleRecord,
  CycleStatus,
  Escrow,
  JobHealth,
  JobRecord,
  Link,
  LogQuery,
  ObjectType,
  SourceCacheUpdate,
  SyncLogEntry,
  SyncLogRecord,
  SyncStateStore,
} from '../sync/state.js';
import type { TargetExchange } from '../sync/target/exchange.js';
import type { SharedProgress } from '../app/sync-jobs.js';

/** Kysely's view of the engine's tables (migration 050). */
interface SyncJobsTable {
  id: string;
  config: string;
  config_hash: string;
  watermark: string | null;
  watermark_hash: string | null;
  lease_owner: string | null;
  lease_until: string | null;
  /** Migration 051: jobs of the admin API (null for job files). */
  account_id: string | null;
  token: string | null;
  next_run_at: string | null;
  /** Migration 054: JSON JobHealth, null when healthy. */
  health: string | null;
  /** Migration 091: JSON [{id, at}] of the impact previews computed for pending changes. */
  previews: string | null;
  /** Migration 092: a stop asked for the running cycle through any process. */
  stop_requested_at: string | null;
  /** Migration 092: JSON SharedProgress of the running cycle, written by its process. */
  progress: string | null;
  created_at: string;
  updated_at: string;
}

interface SyncLinksTable {
  job_id: string;
  object_type: string;
  source_id: string;
  target_id: string;
  exported: string;
  enabled: number;
  updated_at: string;
}

interface SyncCyclesTable {
  id: string;
  job_id: string;
  kind: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  summary: string | null;
}

interface SyncLogTable {
  id: Generated<number>;
  job_id: string;
  cycle_id: string;
  at: string;
  object_type: string;
  source_id: string;
  target_id: string | null;
  action: string;
  status: string;
  steps: string;
  modified: string;
  target_status: number | null;
  error: string | null;
  duration_ms: number;
  /** Migration 054. */
  next_retry_at: string | null;
  /** Migration 090: JSON TargetExchange (redacted), null when nothing was sent. */
  exchange: string | null;
}

interface SyncEscrowsTable {
  job_id: string;
  object_type: string;
  source_id: string;
  action: string;
  first_failed_at: string;
  last_failed_at: string;
  attempts: number;
  next_retry_at: string | null;
  last_error: string;
  last_status: number | null;
  fingerprint: string;
  counted: number;
}

/** Migration 052: an incremental source's copy of what it read last. */
interface SyncSourceCacheTable {
  job_id: string;
  key: string;
  data: string;
}

export interface SyncTables {
  sync_source_cache: SyncSourceCacheTable;
  sync_jobs: SyncJobsTable;
  sync_links: SyncLinksTable;
  sync_cycles: SyncCyclesTable;
  sync_log: SyncLogTable;
  sync_escrows: SyncEscrowsTable;
}

/** Rows per multi-row statement: well under SQLite's 32,766 bound parameters. */
const CHUNK = 500;
const MAX_LOG_ROWS = 10_000;

/** The engine's connector state on SQLite or PostgreSQL (one Kysely implementation). */
export class KyselySyncStore implements SyncStateStore {
  private readonly db: Kysely<SyncTables>;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any Roster database
  constructor(db: Kysely<any>) {
    // The engine's tables are declared here, beside their only adapter, not in db-schema.ts.
    this.db = db as unknown as Kysely<SyncTables>;
  }

  async saveJob(id: string, config: unknown, configHash: string): Promise<JobRecord> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('sync_jobs')
      .values({
        id,
        config: JSON.stringify(config),
        config_hash: configHash,
        watermark: null,
        watermark_hash: null,
        lease_owner: null,
        lease_until: null,
        account_id: null,
        token: null,
        next_run_at: null,
        health: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          config: JSON.stringify(config),
          config_hash: configHash,
          updated_at: now,
        }),
      )
      .execute();
    return (await this.getJob(id))!;
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const row = await this.db
      .selectFrom('sync_jobs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : toJob(row);
  }

  async listJobs(): Promise<JobRecord[]> {
    const rows = await this.db.selectFrom('sync_jobs').selectAll().orderBy('id').execute();
    return rows.map(toJob);
  }

  async acquireLease(jobId: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = new Date();
    // One conditional UPDATE: atomic on both databases, so two processes cannot both win.
    const result = await this.db
      .updateTable('sync_jobs')
      .set({ lease_owner: owner, lease_until: new Date(now.getTime() + ttlMs).toISOString() })
      .where('id', '=', jobId)
      .where((eb) =>
        eb.or([
          eb('lease_owner', 'is', null),
          eb('lease_owner', '=', owner),
          eb('lease_until', '<', now.toISOString()),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async renewLease(jobId: string, owner: string, ttlMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable('sync_jobs')
      .set({ lease_until: new Date(Date.now() + ttlMs).toISOString() })
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async releaseLease(jobId: string, owner: string): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ lease_owner: null, lease_until: null })
      .where('id', '=', jobId)
      .where('lease_owner', '=', owner)
      .execute();
  }

  async takeOverLease(
    jobId: string,
    staleOwner: string,
    owner: string,
    ttlMs: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('sync_jobs')
      .set({ lease_owner: owner, lease_until: new Date(Date.now() + ttlMs).toISOString() })
      .where('id', '=', jobId)
      .where('lease_owner', '=', staleOwner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async clearWatermark(jobId: string): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ watermark: null, watermark_hash: null, updated_at: new Date().toISOString() })
      .where('id', '=', jobId)
      .execute();
  }

  async setWatermark(jobId: string, watermark: string, hash: string): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ watermark, watermark_hash: hash, updated_at: new Date().toISOString() })
      .where('id', '=', jobId)
      .execute();
  }

  async loadSourceCache(jobId: string): Promise<Map<string, unknown>> {
    const rows = await this.db
      .selectFrom('sync_source_cache')
      .select(['key', 'data'])
      .where('job_id', '=', jobId)
      .execute();
    return new Map(rows.map((row) => [row.key, JSON.parse(row.data) as unknown]));
  }

  async saveSourceCache(jobId: string, update: SourceCacheUpdate): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (update.replace)
        await tx.deleteFrom('sync_source_cache').where('job_id', '=', jobId).execute();
      else
        for (let i = 0; i < update.remove.length; i += CHUNK)
          await tx
            .deleteFrom('sync_source_cache')
            .where('job_id', '=', jobId)
            .where('key', 'in', update.remove.slice(i, i + CHUNK))
            .execute();
      const rows = [...update.put].map(([key, data]) => ({
        job_id: jobId,
        key,
        data: JSON.stringify(data),
      }));
      for (let i = 0; i < rows.length; i += CHUNK)
        await tx
          .insertInto('sync_source_cache')
          .values(rows.slice(i, i + CHUNK))
          .onConflict((oc) =>
            oc.columns(['job_id', 'key']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data') })),
          )
          .execute();
    });
  }

  async loadLinks(jobId: string): Promise<Link[]> {
    const rows = await this.db
      .selectFrom('sync_links')
      .select(['object_type', 'source_id', 'target_id', 'exported', 'enabled'])
      .where('job_id', '=', jobId)
      .execute();
    return rows.map((row) => ({
      objectType: row.object_type as ObjectType,
      sourceId: row.source_id,
      targetId: row.target_id,
      exported: JSON.parse(row.exported) as Link['exported'],
      enabled: Number(row.enabled) === 1,
    }));
  }

  async countLinks(
    jobId: string,
  ): Promise<{ users: number; groups: number; disabledUsers: number }> {
    const rows = await this.db
      .selectFrom('sync_links')
      .select(['object_type', 'enabled', (eb) => eb.fn.countAll().as('n')])
      .where('job_id', '=', jobId)
      .groupBy(['object_type', 'enabled'])
      .execute();
    const counts = { users: 0, groups: 0, disabledUsers: 0 };
    for (const row of rows) {
      const n = Number(row.n);
      if (row.object_type === 'group') counts.groups += n;
      else {
        counts.users += n;
        if (Number(row.enabled) === 0) counts.disabledUsers += n;
      }
    }
    return counts;
  }

  async upsertLinks(jobId: string, links: readonly Link[]): Promise<void> {
    if (links.length === 0) return;
    const now = new Date().toISOString();
    // The last write for a key wins; one statement may not touch a row twice (PostgreSQL).
    const unique = new Map<string, Link>();
    for (const link of links) unique.set(`${link.objectType}\u0000${link.sourceId}`, link);
    const rows = [...unique.values()].map((link) => ({
      job_id: jobId,
      object_type: link.objectType,
      source_id: link.sourceId,
      target_id: link.targetId,
      exported: JSON.stringify(link.exported),
      enabled: link.enabled ? 1 : 0,
      updated_at: now,
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      await this.db
        .insertInto('sync_links')
        .values(rows.slice(i, i + CHUNK))
        .onConflict((oc) =>
          oc.columns(['job_id', 'object_type', 'source_id']).doUpdateSet((eb) => ({
            target_id: eb.ref('excluded.target_id'),
            exported: eb.ref('excluded.exported'),
            enabled: eb.ref('excluded.enabled'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute();
    }
  }

  async deleteLinks(
    jobId: string,
    keys: readonly { objectType: ObjectType; sourceId: string }[],
  ): Promise<void> {
    await this.deleteKeys('sync_links', jobId, keys);
  }

  /** Deletes the job's rows of `table` with these keys, in statements of CHUNK keys. */
  private async deleteKeys(
    table: 'sync_links' | 'sync_escrows',
    jobId: string,
    keys: readonly { objectType: ObjectType; sourceId: string }[],
  ): Promise<void> {
    for (const objectType of ['user', 'group'] as const) {
      const ids = keys.filter((k) => k.objectType === objectType).map((k) => k.sourceId);
      for (let i = 0; i < ids.length; i += CHUNK) {
        await this.db
          .deleteFrom(table)
          .where('job_id', '=', jobId)
          .where('object_type', '=', objectType)
          .where('source_id', 'in', ids.slice(i, i + CHUNK))
          .execute();
      }
    }
  }

  async startCycle(jobId: string, kind: CycleKind): Promise<CycleRecord> {
    const row = {
      id: randomUUID(),
      job_id: jobId,
      kind,
      status: 'running',
      started_at: new Date().toISOString(),
      finished_at: null,
      summary: null,
    };
    await this.db.insertInto('sync_cycles').values(row).execute();
    return toCycle(row);
  }

  async finishCycle(cycleId: string, status: CycleStatus, summary: unknown): Promise<void> {
    await this.db
      .updateTable('sync_cycles')
      .set({ status, finished_at: new Date().toISOString(), summary: JSON.stringify(summary) })
      .where('id', '=', cycleId)
      .execute();
  }

  async listCycles(jobId: string, limit: number): Promise<CycleRecord[]> {
    const rows = await this.db
      .selectFrom('sync_cycles')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(1, Math.min(limit, 1000)))
      .execute();
    return rows.map(toCycle);
  }

  async appendLog(entries: readonly SyncLogEntry[]): Promise<void> {
    const rows = entries.map((e) => ({
      job_id: e.jobId,
      cycle_id: e.cycleId,
      at: e.at,
      object_type: e.objectType,
      source_id: e.sourceId,
      target_id: e.targetId,
      action: e.action,
      status: e.status,
      steps: JSON.stringify(e.steps),
      modified: JSON.stringify(e.modified),
      target_status: e.targetStatus,
      error: e.error,
      duration_ms: Math.round(e.durationMs * 1000) / 1000,
      // '' marks an object dropped from escrow (nextRetryAt null); NULL: not in escrow.
      next_retry_at: e.nextRetryAt === undefined ? null : (e.nextRetryAt ?? ''),
      exchange: e.exchange === undefined ? null : JSON.stringify(e.exchange),
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      await this.db
        .insertInto('sync_log')
        .values(rows.slice(i, i + CHUNK))
        .execute();
    }
  }

  async listLog(jobId: string, query: LogQuery = {}): Promise<SyncLogRecord[]> {
    let select = this.db.selectFrom('sync_log').selectAll().where('job_id', '=', jobId);
    if (query.sourceId !== undefined) select = select.where('source_id', '=', query.sourceId);
    if (query.cycleId !== undefined) select = select.where('cycle_id', '=', query.cycleId);
    if (query.status !== undefined) select = select.where('status', '=', query.status);
    if (query.action !== undefined) select = select.where('action', '=', query.action);
    if (query.beforeId !== undefined) select = select.where('id', '<', query.beforeId);
    const objectId = query.objectId;
    if (objectId !== undefined)
      select = select.where((eb) =>
        eb.or([eb('source_id', '=', objectId), eb('target_id', '=', objectId)]),
      );
    const rows = await select
      .orderBy('id', 'desc')
      .limit(Math.max(1, Math.min(query.limit ?? 100, MAX_LOG_ROWS)))
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      jobId: row.job_id,
      cycleId: row.cycle_id,
      at: row.at,
      objectType: row.object_type as ObjectType,
      sourceId: row.source_id,
      targetId: row.target_id,
      action: row.action as SyncLogRecord['action'],
      status: row.status as SyncLogRecord['status'],
      steps: JSON.parse(row.steps) as SyncLogRecord['steps'],
      modified: JSON.parse(row.modified) as SyncLogRecord['modified'],
      targetStatus: row.target_status === null ? null : Number(row.target_status),
      error: row.error,
      durationMs: Number(row.duration_ms),
      ...(row.next_retry_at !== null
        ? { nextRetryAt: row.next_retry_at === '' ? null : row.next_retry_at }
        : {}),
      ...(row.exchange !== null && row.exchange !== undefined
        ? { exchange: JSON.parse(row.exchange) as TargetExchange }
        : {}),
    }));
  }

  async loadEscrows(jobId: string): Promise<Escrow[]> {
    const rows = await this.db
      .selectFrom('sync_escrows')
      .selectAll()
      .where('job_id', '=', jobId)
      .execute();
    return rows.map((row) => ({
      objectType: row.object_type as ObjectType,
      sourceId: row.source_id,
      action: row.action as Escrow['action'],
      firstFailedAt: row.first_failed_at,
      lastFailedAt: row.last_failed_at,
      attempts: Number(row.attempts),
      nextRetryAt: row.next_retry_at,
      lastError: row.last_error,
      lastStatus: row.last_status === null ? null : Number(row.last_status),
      fingerprint: row.fingerprint,
      counted: Number(row.counted) === 1,
    }));
  }

  async saveEscrows(jobId: string, escrows: readonly Escrow[]): Promise<void> {
    const unique = new Map<string, Escrow>();
    for (const e of escrows) unique.set(`${e.objectType}\u0000${e.sourceId}`, e);
    const rows = [...unique.values()].map((e) => ({
      job_id: jobId,
      object_type: e.objectType,
      source_id: e.sourceId,
      action: e.action,
      first_failed_at: e.firstFailedAt,
      last_failed_at: e.lastFailedAt,
      attempts: e.attempts,
      next_retry_at: e.nextRetryAt,
      last_error: e.lastError.slice(0, 2000),
      last_status: e.lastStatus,
      fingerprint: e.fingerprint,
      counted: e.counted ? 1 : 0,
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      await this.db
        .insertInto('sync_escrows')
        .values(rows.slice(i, i + CHUNK))
        .onConflict((oc) =>
          oc.columns(['job_id', 'object_type', 'source_id']).doUpdateSet((eb) => ({
            action: eb.ref('excluded.action'),
            first_failed_at: eb.ref('excluded.first_failed_at'),
            last_failed_at: eb.ref('excluded.last_failed_at'),
            attempts: eb.ref('excluded.attempts'),
            next_retry_at: eb.ref('excluded.next_retry_at'),
            last_error: eb.ref('excluded.last_error'),
            last_status: eb.ref('excluded.last_status'),
            fingerprint: eb.ref('excluded.fingerprint'),
            counted: eb.ref('excluded.counted'),
          })),
        )
        .execute();
    }
  }

  async deleteEscrows(
    jobId: string,
    keys: readonly { objectType: ObjectType; sourceId: string }[],
  ): Promise<void> {
    await this.deleteKeys('sync_escrows', jobId, keys);
  }

  async getHealth(jobId: string): Promise<JobHealth> {
    const row = await this.db
      .selectFrom('sync_jobs')
      .select('health')
      .where('id', '=', jobId)
      .executeTakeFirst();
    return parseHealth(row?.health ?? null);
  }

  async setHealth(jobId: string, health: JobHealth): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ health: JSON.stringify(health) })
      .where('id', '=', jobId)
      .execute();
  }

  /** Asks the job's running cycle to stop, whichever process runs it (it checks each second). */
  async requestStop(jobId: string, at: string): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ stop_requested_at: at })
      .where('id', '=', jobId)
      .execute();
  }

  /** The running cycle's shared state: when a stop was asked, and its progress. */
  async cycleControl(
    jobId: string,
  ): Promise<{ stopRequestedAt: string | null; progress: SharedProgress | null }> {
    const row = await this.db
      .selectFrom('sync_jobs')
      .select(['stop_requested_at', 'progress'])
      .where('id', '=', jobId)
      .executeTakeFirst();
    return {
      stopRequestedAt: row?.stop_requested_at ?? null,
      progress: parseProgress(row?.progress ?? null),
    };
  }

  async saveProgress(jobId: string, progress: SharedProgress): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ progress: JSON.stringify(progress) })
      .where('id', '=', jobId)
      .execute();
  }

  /** A cycle starts or ends: no stop pending, no progress shown. */
  async clearCycleControl(jobId: string): Promise<void> {
    await this.db
      .updateTable('sync_jobs')
      .set({ stop_requested_at: null, progress: null })
      .where('id', '=', jobId)
      .execute();
  }

  /** Remembers an impact preview computed for a pending change (the last 20, newest last). */
  async recordPreview(jobId: string, previewId: string, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('sync_jobs')
        .select('previews')
        .where('id', '=', jobId)
        .executeTakeFirst();
      if (row === undefined) return;
      const kept = parsePreviews(row.previews ?? null).filter((p) => p.id !== previewId);
      const previews = [...kept, { id: previewId, at }].slice(-20);
      await trx
        .updateTable('sync_jobs')
        .set({ previews: JSON.stringify(previews) })
        .where('id', '=', jobId)
        .execute();
    });
  }

  /** When the preview `previewId` was computed for the job, or undefined if it was not. */
  async previewedAt(jobId: string, previewId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('sync_jobs')
      .select('previews')
      .where('id', '=', jobId)
      .executeTakeFirst();
    return parsePreviews(row?.previews ?? null).find((p) => p.id === previewId)?.at;
  }

  async resetJob(jobId: string, options: { links: boolean }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('sync_escrows').where('job_id', '=', jobId).execute();
      if (options.links) await trx.deleteFrom('sync_links').where('job_id', '=', jobId).execute();
      await trx
        .updateTable('sync_jobs')
        .set({
          health: null,
          watermark: null,
          watermark_hash: null,
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', jobId)
        .execute();
    });
  }
}

export function parseProgress(text: string | null): SharedProgress | null {
  if (text === null || text === '') return null;
  return JSON.parse(text) as SharedProgress;
}

function parsePreviews(text: string | null): { id: string; at: string }[] {
  if (text === null || text === '') return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as { id: string; at: string }[]) : [];
}

export function parseHealth(text: string | null): JobHealth {
  if (text === null) return HEALTHY;
  return { ...HEALTHY, ...(JSON.parse(text) as Partial<JobHealth>) };
}

function toJob(row: SyncJobsTable): JobRecord {
  return {
    id: row.id,
    config: JSON.parse(row.config) as unknown,
    configHash: row.config_hash,
    watermark: row.watermark,
    watermarkHash: row.watermark_hash,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toCycle(row: SyncCyclesTable): CycleRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    kind: row.kind as CycleKind,
    status: row.status as CycleStatus,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    summary: row.summary === null ? null : (JSON.parse(row.summary) as unknown),
  };
}
