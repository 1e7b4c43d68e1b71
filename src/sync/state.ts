import type { TargetExchange } from './target/exchange.js';

/**
 * The engine's connector state, as the planner and executor see it. The storage adapter
 * (src/storage/sync-store.ts) implements `SyncStateStore` on SQLite and PostgreSQL.
 */

export type ObjectType = 'user' | 'group';

/** A value the engine exports: scalars, or (for group members) a list of source ids. */
export type ExportedValue = string | number | boolean | null | readonly string[];

/** Values last exported to the target, keyed by target attribute path (`name.givenName`). */
export type ExportedValues = Readonly<Record<string, ExportedValue>>;

/** A source object ↔ target object link: what the engine knows it has provisioned. */
export interface Link {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly targetId: string;
  readonly exported: ExportedValues;
  /** False once the engine has disabled the target object (out of scope, disabled). */
  readonly enabled: boolean;
}

export interface JobRecord {
  readonly id: string;
  /** The job definition as stored (JSON-compatible). */
  readonly config: unknown;
  readonly configHash: string;
  /** Source position after the last completed cycle; null → the next cycle is initial. */
  readonly watermark: string | null;
  /** The config hash the watermark was earned with; differs → full cycle. */
  readonly watermarkHash: string | null;
  /** Who runs the job now (`host:pid:uuid`), and until when, or null. */
  readonly leaseOwner: string | null;
  readonly leaseUntil: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type CycleKind = 'initial' | 'incremental';
export type CycleStatus = 'running' | 'succeeded' | 'failed' | 'stopped';

export interface CycleRecord {
  readonly id: string;
  readonly jobId: string;
  readonly kind: CycleKind;
  readonly status: CycleStatus;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly summary: unknown;
}

/** `stagedDelete`: a disable or delete held back by the job's deletion threshold. */
export type LogAction = 'create' | 'update' | 'disable' | 'delete' | 'skip' | 'stagedDelete';
export type LogStatus = 'success' | 'failure' | 'skipped';

export interface ModifiedProperty {
  readonly name: string;
  readonly old: ExportedValue | undefined;
  readonly new: ExportedValue | undefined;
}

export interface LogStep {
  readonly step: 'import' | 'scope' | 'match' | 'action' | 'reference' | 'escrow';
  readonly detail: string;
}

export interface SyncLogEntry {
  readonly jobId: string;
  readonly cycleId: string;
  readonly at: string;
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly targetId: string | null;
  readonly action: LogAction;
  readonly status: LogStatus;
  readonly steps: readonly LogStep[];
  readonly modified: readonly ModifiedProperty[];
  readonly targetStatus: number | null;
  readonly error: string | null;
  readonly durationMs: number;
  /** A failed object in escrow: when it is tried again (null once dropped). */
  readonly nextRetryAt?: string | null;
  /** The last request sent to the target for this entry and its answer, redacted. */
  readonly exchange?: TargetExchange;
}

export interface SyncLogRecord extends SyncLogEntry {
  readonly id: number;
}

export interface LogQuery {
  readonly limit?: number;
  readonly sourceId?: string;
  readonly cycleId?: string;
  readonly status?: LogStatus;
  readonly action?: SyncLogRecord['action'];
  /** A source or target id. */
  readonly objectId?: string;
  /** Paging: entries older than this log id. */
  readonly beforeId?: number;
}

export interface SourceCacheUpdate {
  /** Drop every entry of the job first (after a full read). */
  readonly replace: boolean;
  readonly put: ReadonlyMap<string, unknown>;
  readonly remove: readonly string[];
}

export interface SyncStateStore {
  /** Creates the job or updates its config; the watermark is kept (the hash decides). */
  saveJob(id: string, config: unknown, configHash: string): Promise<JobRecord>;
  getJob(id: string): Promise<JobRecord | undefined>;
  listJobs(): Promise<JobRecord[]>;
  /** Takes the job's lease if free or expired; false if another owner holds it. */
  acquireLease(jobId: string, owner: string, ttlMs: number): Promise<boolean>;
  renewLease(jobId: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(jobId: string, owner: string): Promise<void>;
  /** Takes the lease from `staleOwner` (a process known to be dead); false if it moved on. */
  takeOverLease(jobId: string, staleOwner: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Forgets the watermark (the next cycle is initial); links survive. */
  clearWatermark(jobId: string): Promise<void>;
  setWatermark(jobId: string, watermark: string, hash: string): Promise<void>;

  /** An incremental source's copy of what it read last (keys and JSON values are its own). */
  loadSourceCache(jobId: string): Promise<Map<string, unknown>>;
  saveSourceCache(jobId: string, update: SourceCacheUpdate): Promise<void>;

  loadLinks(jobId: string): Promise<Link[]>;
  /** Links per object type, and how many users are disabled by the engine. */
  countLinks(jobId: string): Promise<{ users: number; groups: number; disabledUsers: number }>;
  upsertLinks(jobId: string, links: readonly Link[]): Promise<void>;
  deleteLinks(
    jobId: string,
    keys: readonly { objectType: ObjectType; sourceId: string }[],
  ): Promise<void>;

  startCycle(jobId: string, kind: CycleKind): Promise<CycleRecord>;
  finishCycle(cycleId: string, status: CycleStatus, summary: unknown): Promise<void>;
  listCycles(jobId: string, limit: number): Promise<CycleRecord[]>;

  appendLog(entries: readonly SyncLogEntry[]): Promise<void>;
  listLog(jobId: string, query?: LogQuery): Promise<SyncLogRecord[]>;

  // Failure handling (src/sync/failure.ts).
  loadEscrows(jobId: string): Promise<Escrow[]>;
  saveEscrows(jobId: string, escrows: readonly Escrow[]): Promise<void>;
  deleteEscrows(
    jobId: string,
    keys: readonly { objectType: ObjectType; sourceId: string }[],
  ): Promise<void>;
  getHealth(jobId: string): Promise<JobHealth>;
  setHealth(jobId: string, health: JobHealth): Promise<void>;
  /**
   * Entra's "restart": clears quarantine, staged deletes, escrows and the watermark;
   * `links` (a full reset) forgets the links too, so the next cycle matches again.
   */
  resetJob(jobId: string, options: { links: boolean }): Promise<void>;
}

/** A failed object waiting for its next retry (Entra's escrow). */
export interface Escrow {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly action: LogAction;
  readonly firstFailedAt: string;
  readonly lastFailedAt: string;
  /** Failed attempts so far. */
  readonly attempts: number;
  /** Null once dropped: not retried until the object changes in the source. */
  readonly nextRetryAt: string | null;
  readonly lastError: string;
  readonly lastStatus: number | null;
  /** Hash of the planned operation; a different plan for the object retries at once. */
  readonly fingerprint: string;
  /** False for throttling that outlasted every wait: retried next cycle, never counted. */
  readonly counted: boolean;
}

/** Why a job is quarantined: Roster's code, and Entra's reason for the same case. */
export type QuarantineCode = 'invalid_credentials' | 'scim_compliance' | 'escrow_threshold';

export interface Quarantine {
  readonly code: QuarantineCode;
  /** Entra's reason code: EncounteredQuarantineException or EncounteredEscrowProportionThreshold. */
  readonly reason: string;
  readonly detail: string;
  /** What an admin does about it. */
  readonly fix: string;
  readonly since: string;
  readonly cycleId: string;
}

export interface StagedDeletes {
  readonly cycleId: string;
  readonly at: string;
  readonly disables: number;
  readonly deletes: number;
  readonly threshold: number;
}

/** A job's failure state beside its config: quarantine, staged deletes and what was mailed. */
export interface JobHealth {
  readonly quarantine: Quarantine | null;
  /** Set while the job is paused by the deletion threshold. */
  readonly staged: StagedDeletes | null;
  /** Disables + deletes an admin allowed for the next cycle (0: the threshold applies). */
  readonly allowedDeletes: number;
  /** The last quarantine code and staged cycle an e-mail was sent for. */
  readonly notified: { readonly quarantine?: string; readonly staged?: string };
}

export const HEALTHY: JobHealth = {
  quarantine: null,
  staged: null,
  allowedDeletes: 0,
  notified: {},
};
