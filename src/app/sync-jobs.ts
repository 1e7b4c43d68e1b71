import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import {
  configHash as configHashOf,
  JobBusyError,
  JobConfigError,
  runCycle,
  validateJob,
  type JobConfig,
} from '../sync/job.js';
import type {
  JobHealth,
  LogAction,
  LogStatus,
  ObjectType,
  SyncLogRecord,
  SyncStateStore,
} from '../sync/state.js';
import {
  previewCycle,
  provisionOnDemand,
  type OnDemandResult,
  type Preview,
} from '../sync/preview.js';
import { SourceError } from '../sync/sources/source.js';
import { sourceFor } from '../sync/job.js';
import {
  compileExpression,
  expressionEngine,
  ExpressionError,
  IGNORE,
  MAX_EXPRESSION_LENGTH,
} from '../sync/expressions/index.js';
import { LinkError, listLinks, relink, resync, unlink, type LinkView } from '../sync/links.js';
import { ScimTargetClient } from '../sync/target/client.js';
import { compileMappings, MappingError } from '../sync/mapping/compile.js';
import { DEFAULT_MAPPINGS, type ObjectMappings } from '../sync/mapping/mappings.js';
import { canonicalJson } from '../sync/preview.js';
import { createHash } from 'node:crypto';
import { ScopeError } from '../sync/scope.js';
import { ScopingError, validateScopingFilters } from '../sync/scoping/index.js';
import {
  allowStagedDeletes,
  isPaused,
  NothingStagedError,
  scheduleMinutes,
} from '../sync/failure.js';
import { probeTarget, type ProbeReport } from '../sync/target/probe.js';
import { tenantUrl } from './accounts.js';
import { AppError } from './errors.js';
import type { Stores } from './stores.js';

/** A job of the admin API as stored: the job file's JSON (without its token), schedule, lease, health. */
export interface StoredSyncJob {
  /** `<account id>.<name>`: the engine's job id. */
  readonly id: string;
  /** Null for a job file run by the CLI. */
  readonly accountId: string | null;
  /** The job's JSON as saved. */
  readonly config: string;
  /** The target's SCIM token, kept for the scheduler; never shown. */
  readonly token: string | null;
  readonly nextRunAt: string | null;
  readonly leaseOwner: string | null;
  readonly leaseUntil: string | null;
  readonly health: JobHealth;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * The engine's state (links, cycles, log, escrows, leases) and the admin API's jobs
 * across accounts (`stores.syncJobs`): the scheduler claims due jobs of every account.
 * Implemented by the storage layer's KyselySyncJobStore.
 */
export interface SyncJobStore extends SyncStateStore {
  /** The account's region, or undefined when there is no such account. */
  accountRegion(accountId: string): Promise<string | undefined>;
  /** The account's job ids, in order. */
  jobIds(accountId: string): Promise<string[]>;
  job(id: string): Promise<StoredSyncJob | undefined>;
  /** Gives a saved job (saveJob) to its account, with its token and next run. */
  assignJob(
    id: string,
    fields: { accountId: string; token: string; nextRunAt: string },
  ): Promise<void>;
  /** The job with its links, cycles, log, source cache and escrows. */
  removeJob(id: string): Promise<void>;
  /** Jobs with a token whose next run is at or before `now`, soonest first. */
  dueJobs(now: string, limit: number): Promise<StoredSyncJob[]>;
  /**
   * Moves the job's next run from `expected` to `next` in one conditional UPDATE: of
   * several processes, the one that gets true runs the cycle.
   */
  claimRun(id: string, expected: string | null, next: string): Promise<boolean>;
  /** Asks the job's running cycle to stop, whichever process runs it (it checks each second). */
  requestStop(jobId: string, at: string): Promise<void>;
  /** The running cycle's shared state: when a stop was asked, and its progress. */
  cycleControl(
    jobId: string,
  ): Promise<{ stopRequestedAt: string | null; progress: SharedProgress | null }>;
  saveProgress(jobId: string, progress: SharedProgress): Promise<void>;
  /** A cycle starts or ends: no stop pending, no progress shown. */
  clearCycleControl(jobId: string): Promise<void>;
  /** Remembers an impact preview computed for a pending change. */
  recordPreview(jobId: string, previewId: string, at: string): Promise<void>;
  /** When the preview `previewId` was computed for the job, or undefined if it was not. */
  previewedAt(jobId: string, previewId: string): Promise<string | undefined>;
}

/** A running cycle's progress as its process shares it with the others. */
export interface SharedProgress {
  readonly done: number;
  readonly total: number;
  readonly startedAt: string;
  /** When it was written: stale once the cycle's process is gone. */
  readonly at: string;
}

/**
 * Sync jobs of an account (the admin API and the scheduler of `roster serve`).
 *
 * Rules: a job belongs to the account whose admin defined it and is invisible to every
 * other account (404). Its target is that account's own tenant URL: an admin may feed
 * only their own account, so the server never sends data or tokens elsewhere on an
 * admin's say. Its source files are read from `ROSTER_SYNC_SOURCE_DIR/<account id>/`
 * only. The target token is given as `target.token` and kept in the database (the
 * scheduler needs it); the API never returns it. `tokenEnv` is refused (the server's
 * environment is not the admin's). Schedule: `scheduleMinutes`, 40 by default, at least 1.
 */
export const DEFAULT_SCHEDULE_MINUTES = 40;
/** Fields of a job's view (GET) that are not settings: ignored when the view is sent back. */
const VIEW_ONLY_FIELDS = [
  'defaultMappings',
  'nextRunAt',
  'running',
  'progress',
  'health',
  'createdAt',
  'updatedAt',
  'lastCycle',
];
/** Settings GET shows as null when not set. */
const NULLABLE_SETTINGS = ['mappings', 'scope', 'deletionThreshold', 'failures'];
/** The longest schedule of a job defined through the admin API: once a day. */
export const MAX_SCHEDULE_MINUTES = 1440;
/** Every action a sync log entry may record, for filters. */
export const LOG_ACTIONS: readonly LogAction[] = [
  'create',
  'update',
  'disable',
  'delete',
  'skip',
  'stagedDelete',
];
const LOG_STATUSES: readonly LogStatus[] = ['success', 'failure', 'skipped'];
/** At most this many log entries in one export (CSV or JSON). */
export const MAX_EXPORT_ENTRIES = 10_000;

/**
 * CSV of sync log entries (RFC 4180 quoting, CRLF): one line each; `modified` lists the
 * attributes changed and `steps` the step details, each joined with " | ".
 */
export function syncLogCsv(entries: readonly SyncLogRecord[]): string {
  const columns: [string, (e: SyncLogRecord) => unknown][] = [
    ['id', (e) => e.id],
    ['at', (e) => e.at],
    ['cycle', (e) => e.cycleId],
    ['objectType', (e) => e.objectType],
    ['sourceId', (e) => e.sourceId],
    ['targetId', (e) => e.targetId],
    ['action', (e) => e.action],
    ['status', (e) => e.status],
    ['targetStatus', (e) => e.targetStatus],
    ['error', (e) => e.error],
    ['durationMs', (e) => e.durationMs],
    ['nextRetryAt', (e) => e.nextRetryAt],
    ['modified', (e) => e.modified.map((m) => m.name).join(' | ')],
    ['steps', (e) => e.steps.map((s) => `${s.step}: ${s.detail}`).join(' | ')],
  ];
  const cell = (v: unknown): string => {
    const text = v === null || v === undefined ? '' : String(v);
    // A leading =, +, - or @ would be a formula in a spreadsheet: quote it as text.
    const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const lines = [
    columns.map(([name]) => name).join(','),
    ...entries.map((e) => columns.map(([, get]) => cell(get(e))).join(',')),
  ];
  return lines.join('\r\n') + '\r\n';
}

export interface SyncJobView {
  readonly id: string;
  readonly source:
    | { type: 'json'; path: string }
    | { type: 'csv'; users: string; groups?: string }
    | { type: 'ldap'; url: string; baseDn: string; bindDn?: string }
    | { type: 'scim'; url: string };
  readonly target: Omit<JobConfig['target'], 'token' | 'tokenEnv'>;
  readonly mappings: unknown;
  readonly scope: unknown;
  readonly scheduleMinutes: number;
  /** Disables + deletes one cycle may do (null: no threshold). */
  readonly deletionThreshold: number | null;
  /** Who is mailed on quarantine and staged deletes. */
  readonly notify: { readonly email: readonly string[] };
  /** Escrow and quarantine settings as saved (null: Entra's defaults). */
  readonly failures: JobConfig['failures'] | null;
  /** Saving a mapping, scoping or source change needs its impact preview first. */
  readonly requirePreview: boolean;
  /** The mappings the engine applies when `mappings` is null (Entra's defaults). */
  readonly defaultMappings: ObjectMappings;
  readonly nextRunAt: string | null;
  readonly running: boolean;
  /** The running cycle's objects done of planned, with an ETA; null when none runs here. */
  readonly progress: ProgressView | null;
  /** Quarantine (reason and fix), staged deletes and escrow; `paused` while deletes wait. */
  readonly health: {
    readonly state: 'healthy' | 'quarantined' | 'paused';
    readonly quarantine: JobHealth['quarantine'];
    readonly stagedDeletes: JobHealth['staged'];
    readonly allowedDeletes: number;
    readonly escrowed: number;
  };
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastCycle: {
    id: string;
    kind: string;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    summary: unknown;
  } | null;
}

/** The answer of checkExpression. */
export type ExpressionCheck =
  | { ok: true; sourceId?: string; value?: unknown; ignored?: boolean }
  | { ok: false; error: string; line: number; column: number; sourceId?: string };

export interface ProgressView {
  readonly done: number;
  readonly total: number;
  readonly startedAt: string;
  /** Seconds left at the rate so far; null before the first object is done. */
  readonly etaSeconds: number | null;
}

/**
 * Live progress of the cycles this process runs, by job: the executor's object counter
 * (onProgress). Kept in memory, so a job shows progress on the server process that runs
 * its cycle; another process sees `running` without progress.
 */
export class CycleProgress {
  private readonly jobs = new Map<string, { done: number; total: number; startedAt: number }>();

  start(jobId: string, now = Date.now()): void {
    this.jobs.set(jobId, { done: 0, total: 0, startedAt: now });
  }

  record(jobId: string, done: number, total: number): void {
    const entry = this.jobs.get(jobId);
    if (entry !== undefined) {
      entry.done = done;
      entry.total = total;
    }
  }

  end(jobId: string): void {
    this.jobs.delete(jobId);
  }

  view(jobId: string, now = Date.now()): ProgressView | null {
    const entry = this.jobs.get(jobId);
    if (entry === undefined) return null;
    const elapsed = Math.max(0, now - entry.startedAt);
    return {
      done: entry.done,
      total: entry.total,
      startedAt: new Date(entry.startedAt).toISOString(),
      etaSeconds:
        entry.done === 0
          ? null
          : Math.round(((elapsed / entry.done) * Math.max(0, entry.total - entry.done)) / 1000),
    };
  }
}

/** Shared by every SyncJobs of the process (the admin routes and the scheduler). */
const progress = new CycleProgress();

export interface SyncJobsOptions {
  /** The account's origin, for its tenant URL. */
  readonly publicUrl: (region?: string) => string;
  /** Root of the per-account source directories; ROSTER_SYNC_SOURCE_DIR by default. */
  readonly sourceDir?: string;
  /** Errors of background cycles (run now, schedule). */
  readonly onError?: (error: unknown, jobId: string) => void;
}

export class SyncJobs {
  private readonly running = new Set<Promise<void>>();
  /** Cycles this process runs, by internal job id: Stop aborts them. */
  private readonly stops = new Map<string, AbortController>();
  private closed = false;

  constructor(
    private readonly stores: Stores,
    private readonly options: SyncJobsOptions,
  ) {}

  /** Read when first used: the admin routes are also declared without a database (OpenAPI). */
  private get store(): SyncJobStore {
    return this.stores.syncJobs;
  }

  async list(accountId: string): Promise<SyncJobView[]> {
    const views: SyncJobView[] = [];
    for (const id of await this.store.jobIds(accountId))
      views.push(await this.get(accountId, nameOf(accountId, id)));
    return views;
  }

  async get(accountId: string, name: string): Promise<SyncJobView> {
    const row = await this.row(accountId, name);
    const config = JSON.parse(row.config) as JobConfig;
    const [last] = await this.store.listCycles(row.id, 1);
    const running = this.isRunning(row);
    // Paths as the admin gave them (relative to the account's directory); absolute when
    // the server no longer has a source directory configured.
    const root = this.sourceRoot();
    const base = root === undefined ? undefined : resolve(root, accountId);
    const rel = (p: string) => (base === undefined ? p : relative(base, p).split(sep).join('/'));
    const { tokenEnv: _e, ...target } = config.target as JobConfig['target'];
    return {
      id: name,
      source:
        config.source.type === 'ldap'
          ? // not accepted through the API (save refuses it); shown without its password
            {
              type: 'ldap',
              url: config.source.url,
              baseDn: config.source.baseDn,
              ...(config.source.bindDn !== undefined ? { bindDn: config.source.bindDn } : {}),
            }
          : config.source.type === 'scim'
            ? // not accepted through the API either; shown without its token
              { type: 'scim', url: config.source.url }
            : config.source.type === 'json'
              ? { type: 'json', path: rel(config.source.path) }
              : {
                  type: 'csv',
                  users: rel(config.source.users),
                  ...(config.source.groups !== undefined
                    ? { groups: rel(config.source.groups) }
                    : {}),
                },
      target,
      mappings: config.mappings ?? null,
      scope: config.scope ?? null,
      scheduleMinutes: config.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES,
      deletionThreshold: config.deletionThreshold ?? null,
      notify: { email: config.notify?.email ?? [] },
      failures: config.failures ?? null,
      requirePreview: config.requirePreview === true,
      defaultMappings: DEFAULT_MAPPINGS,
      nextRunAt: row.nextRunAt,
      running,
      progress: running ? (progress.view(row.id) ?? (await this.sharedProgress(row.id))) : null,
      health: await this.healthView(row),
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      lastCycle:
        last === undefined
          ? null
          : {
              id: last.id,
              kind: last.kind,
              status: last.status,
              startedAt: last.startedAt,
              finishedAt: last.finishedAt,
              summary: last.summary,
            },
    };
  }

  /** A job as sent by an admin, validated by the rules above (400s name what is wrong). */
  private async checked(accountId: string, name: string, raw: unknown): Promise<JobConfig> {
    const region = await this.store.accountRegion(accountId);
    if (region === undefined)
      throw new AppError('not_found', `account ${accountId} does not exist`);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new AppError('invalid', 'Send the job as a JSON object (the job file shape).');
    // A job as GET shows it may come back as is: its read-only fields are dropped, and a
    // setting GET shows as null (or no notification address) is the setting left out.
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (VIEW_ONLY_FIELDS.includes(key)) continue;
      if (value === null && NULLABLE_SETTINGS.includes(key)) continue;
      if (key === 'previewId' || (key === 'requirePreview' && value === false)) continue;
      body[key] = value;
    }
    const notify = body['notify'] as { email?: unknown } | undefined;
    if (
      typeof notify === 'object' &&
      notify !== null &&
      Object.keys(notify).length === 1 &&
      Array.isArray(notify.email) &&
      notify.email.length === 0
    )
      delete body['notify'];
    if (body['id'] !== undefined && body['id'] !== name)
      throw new AppError('invalid', `"id" must be "${name}" (the job id in the path) or absent.`);
    const target = body['target'] as Record<string, unknown> | undefined;
    if (typeof target === 'object' && target !== null && target['tokenEnv'] !== undefined)
      throw new AppError(
        'invalid',
        '"target.tokenEnv" is for job files only; send the SCIM token as "target.token".',
      );
    const base = this.accountDir(accountId);
    let config: JobConfig;
    try {
      config = validateJob({ ...body, id: name }, 'job', base);
    } catch (error) {
      if (error instanceof JobConfigError)
        throw new AppError('invalid', error.message.replace(/^job: /, ''));
      throw error;
    }
    if (config.scheduleMinutes !== undefined && config.scheduleMinutes > MAX_SCHEDULE_MINUTES)
      throw new AppError(
        'invalid',
        `"scheduleMinutes" must be a whole number from 1 to ${MAX_SCHEDULE_MINUTES} (a day).`,
      );
    if (config.source.type === 'ldap' || config.source.type === 'scim')
      // The server would connect to an address an admin typed: LDAP and SCIM sources run
      // from job files with `bin/roster sync run` (docs/engine.md) until the API can vet them.
      throw new AppError(
        'invalid',
        `${config.source.type === 'ldap' ? 'LDAP' : 'SCIM'} sources are not accepted through the admin API yet; run them from a job file with bin/roster sync run.`,
      );
    for (const path of sourcePaths(config)) {
      const inside = relative(base, path);
      if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
        throw new AppError(
          'invalid',
          `source paths must be relative paths inside the account's source directory (${base}).`,
        );
    }
    if (config.mappings !== undefined) {
      // A mapping that does not compile would fail every cycle: refuse it when saved.
      const m = config.mappings as unknown as Record<string, unknown>;
      if (
        typeof m !== 'object' ||
        m === null ||
        !Array.isArray(m['user']) ||
        !Array.isArray(m['group'])
      )
        throw new AppError('invalid', '"mappings" must be {"user": [...], "group": [...]}.');
      try {
        compileMappings(config.mappings, expressionEngine);
      } catch (error) {
        if (error instanceof MappingError || error instanceof ExpressionError)
          throw new AppError('invalid', error.message);
        throw error;
      }
    }
    if (config.scope !== undefined) {
      // Scoping filters that do not validate would fail every cycle: refuse them when saved.
      try {
        validateScopingFilters(config.scope.userFilters);
        validateScopingFilters(config.scope.groupFilters);
      } catch (error) {
        if (error instanceof ScopingError) throw new AppError('invalid', error.message);
        throw error;
      }
    }
    const own = tenantUrl(this.options.publicUrl(region), accountId);
    if (config.target.url.replace(/\/+$/, '') !== own)
      throw new AppError(
        'invalid',
        `"target.url" must be this account's tenant URL, ${own}: a job defined here feeds only its own account (job files run by the CLI may feed any SCIM endpoint).`,
      );
    return config;
  }

  /** Creates or replaces the job `name` from the job file's JSON shape. */
  async put(
    accountId: string,
    name: string,
    raw: unknown,
  ): Promise<{ job: SyncJobView; created: boolean }> {
    const config = await this.checked(accountId, name, raw);
    const id = internalId(accountId, name);
    const existing = await this.store.job(id);
    if (existing !== undefined && existing.accountId !== accountId)
      throw new AppError('conflict', `job id ${name} is taken; choose another.`);
    const before = await this.store.getJob(id);
    if (before !== undefined) await this.requirePreview(name, before, config, raw);
    const token = typeof config.target.token === 'string' ? config.target.token : existing?.token;
    if (typeof token !== 'string' || token === '')
      throw new AppError('invalid', '"target.token" (a SCIM token of this account) is required.');
    const { token: _t, ...publicTarget } = config.target;
    const stored: JobConfig = { ...config, id, target: publicTarget };
    await this.store.saveJob(id, stored, configHashOf(stored));
    const minutes = config.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES;
    await this.store.assignJob(id, {
      accountId,
      token,
      nextRunAt: existing?.nextRunAt ?? new Date(Date.now() + minutes * 60_000).toISOString(),
    });
    return { job: await this.get(accountId, name), created: existing === undefined };
  }

  /**
   * A job with `requirePreview` saves a mapping, scoping or source change only with the
   * `previewId` of an impact preview computed for exactly that change within the hour.
   */
  private async requirePreview(
    name: string,
    before: { id: string; config: unknown },
    config: JobConfig,
    raw: unknown,
  ): Promise<void> {
    const stored = before.config as JobConfig;
    if (stored.requirePreview !== true) return;
    const id = changeId(stored, config);
    if (id === null) return; // mappings, scoping and source unchanged
    const given = (raw as Record<string, unknown>)['previewId'];
    if (given === undefined)
      throw new AppError(
        'conflict',
        `job ${name} requires an impact preview before a mapping, scoping or source change is saved: POST the job to /sync/jobs/${name}/preview first, then send it again with the "previewId" of that preview.`,
      );
    const at =
      typeof given === 'string' ? await this.store.previewedAt(before.id, given) : undefined;
    if (given !== id || at === undefined || Date.parse(at) < Date.now() - PREVIEW_TTL_MS)
      throw new AppError(
        'conflict',
        `"previewId" is not a preview of this change (the change or the job differs from what was previewed, or the preview is over an hour old): preview the job as you mean to save it, then save with that preview's id.`,
      );
  }

  async remove(accountId: string, name: string): Promise<void> {
    const row = await this.row(accountId, name);
    if (this.isRunning(row))
      throw new AppError('conflict', `job ${name} is running; delete it once the cycle ends.`);
    await this.store.removeJob(row.id);
  }

  private async healthView(row: StoredSyncJob): Promise<SyncJobView['health']> {
    const health = row.health;
    return {
      state: isPaused(health) ? 'paused' : health.quarantine !== null ? 'quarantined' : 'healthy',
      quarantine: health.quarantine,
      stagedDeletes: health.staged,
      allowedDeletes: health.allowedDeletes,
      escrowed: (await this.store.loadEscrows(row.id)).length,
    };
  }

  /**
   * Impact preview of the job's next cycle: the stored job, or (with a body) the job as it
   * would be saved, so an admin sees what a mapping or scoping change does before saving.
   * Nothing is sent to the target and nothing is written.
   */
  async preview(
    accountId: string,
    name: string,
    raw: unknown,
    limit: number,
  ): Promise<Preview & { previewId?: string }> {
    const row = await this.row(accountId, name);
    const stored = JSON.parse(row.config) as JobConfig;
    const config =
      raw === undefined || raw === null
        ? stored
        : { ...(await this.checked(accountId, name, raw)), id: row.id };
    let preview: Preview;
    try {
      preview = { ...(await previewCycle(config, { state: this.store, limit })), jobId: name };
    } catch (error) {
      throw sourceProblem(error);
    }
    // A preview of a change: its id lets a job that requires previews save that change.
    const id = config === stored ? null : changeId(stored, config);
    if (id === null) return preview;
    await this.store.recordPreview(row.id, id, new Date().toISOString());
    return { ...preview, previewId: id };
  }

  /**
   * Checks one mapping expression with the engine's parser and, given a source user's id,
   * evaluates it on that user as a cycle would (its attributes plus `objectId`). A bad
   * expression is an answer, not an error: {ok: false, error, line, column}.
   */
  async checkExpression(
    accountId: string,
    name: string,
    expression: string,
    sourceId: string | undefined,
  ): Promise<ExpressionCheck> {
    const row = await this.row(accountId, name);
    if (expression.length > MAX_EXPRESSION_LENGTH)
      throw new AppError(
        'invalid',
        `"expression" is longer than ${MAX_EXPRESSION_LENGTH} characters.`,
      );
    let compiled;
    try {
      compiled = compileExpression(expression);
    } catch (error) {
      if (error instanceof ExpressionError)
        return { ok: false, error: error.reason, line: error.line, column: error.column };
      throw error;
    }
    if (sourceId === undefined) return { ok: true };
    const config = JSON.parse(row.config) as JobConfig;
    let user;
    try {
      user = (await sourceFor(config).read(null)).users.get(sourceId);
    } catch (error) {
      throw sourceProblem(error);
    }
    if (user === undefined)
      throw new AppError('not_found', `no user with id ${sourceId} in the job's source`);
    try {
      const value = compiled.evaluate({ ...user.attributes, objectId: user.id });
      return value === IGNORE
        ? { ok: true, sourceId, value: null, ignored: true }
        : { ok: true, sourceId, value, ignored: false };
    } catch (error) {
      if (error instanceof ExpressionError)
        return { ok: false, error: error.reason, line: error.line, column: error.column, sourceId };
      throw error;
    }
  }

  /** Provision on demand: one user, or one group with up to 5 members, now. */
  async provision(
    accountId: string,
    name: string,
    objectType: ObjectType,
    sourceId: string,
  ): Promise<OnDemandResult> {
    const row = await this.row(accountId, name);
    const config = JSON.parse(row.config) as JobConfig;
    try {
      const result = await provisionOnDemand(
        { ...config, target: { ...config.target, token: row.token ?? '' } },
        { state: this.store, objectType, sourceId },
      );
      return { ...result, jobId: name };
    } catch (error) {
      if (error instanceof JobBusyError)
        throw new AppError('conflict', `job ${name} is running a cycle; try again when it ends.`);
      throw sourceProblem(error);
    }
  }

  async links(
    accountId: string,
    name: string,
    query: { objectType?: ObjectType; objectId?: string; ambiguous?: boolean; limit: number },
  ): Promise<{ links: LinkView[]; total: number; ambiguous: number }> {
    const row = await this.row(accountId, name);
    return listLinks(this.store, row.id, query);
  }

  /**
   * Repairs one link: unlink (the next cycle matches again), resync (the next cycle sends
   * every mapped value), relink to a target object that must exist in the account's tenant.
   * 409 while a cycle runs (it holds the links in memory).
   */
  async repairLink(
    accountId: string,
    name: string,
    action: 'unlink' | 'resync' | 'relink',
    objectType: ObjectType,
    sourceId: string,
    targetId?: string,
  ): Promise<LinkView | null> {
    const row = await this.row(accountId, name);
    if (this.isRunning(row))
      throw new AppError(
        'conflict',
        `job ${name} is running; repair its links once the cycle ends.`,
      );
    try {
      if (action === 'unlink') {
        await unlink(this.store, row.id, objectType, sourceId);
        return null;
      }
      const config = JSON.parse(row.config) as JobConfig;
      const link =
        action === 'resync'
          ? await resync(this.store, row.id, objectType, sourceId)
          : await relink(
              this.store,
              row.id,
              objectType,
              sourceId,
              targetId!,
              new ScimTargetClient({
                url: config.target.url,
                token: row.token ?? '',
                timeoutMs: 15_000,
                maxAttempts: 2,
              }),
            );
      return { ...link, sharedWith: [] };
    } catch (error) {
      if (error instanceof LinkError) throw new AppError('conflict', error.message);
      throw error;
    }
  }

  /**
   * Entra's restart: clears quarantine, staged deletes, escrows and the watermark (and the
   * links with `fullReset`), then runs a cycle now. 409 while a cycle runs.
   */
  async restart(accountId: string, name: string, fullReset: boolean): Promise<SyncJobView> {
    const row = await this.row(accountId, name);
    if (this.isRunning(row))
      throw new AppError('conflict', `job ${name} is running; restart it once the cycle ends.`);
    await this.store.resetJob(row.id, { links: fullReset });
    this.start(row);
    return this.get(accountId, name);
  }

  /** An admin allows the staged disables and deletes; the next cycle, started now, runs them. */
  async allowDeletes(accountId: string, name: string): Promise<SyncJobView> {
    const row = await this.row(accountId, name);
    try {
      await allowStagedDeletes(this.store, row.id);
    } catch (error) {
      if (error instanceof NothingStagedError)
        throw new AppError('conflict', `job ${name} has no staged deletes to allow.`);
      throw error;
    }
    if (!this.isRunning(row)) this.start(row);
    return this.get(accountId, name);
  }

  /** Starts one cycle in the background ("run now"); 409 when one is running. */
  async runNow(accountId: string, name: string): Promise<void> {
    const row = await this.row(accountId, name);
    if (this.isRunning(row)) throw new AppError('conflict', `job ${name} is already running.`);
    this.start(row);
  }

  /**
   * Test connection and the target probe (src/sync/target/probe.ts) on the job's target,
   * which is this account's own tenant URL: it creates two users and a group there and
   * deletes them, so the account sees (and its webhooks receive) those changes.
   */
  async probe(accountId: string, name: string): Promise<ProbeReport> {
    const row = await this.row(accountId, name);
    const config = JSON.parse(row.config) as JobConfig;
    return probeTarget({ url: config.target.url, token: row.token ?? '', timeoutMs: 15_000 });
  }

  async log(
    accountId: string,
    name: string,
    query: {
      action?: string;
      status?: string;
      objectId?: string;
      cycle?: string;
      limit: number;
      before?: number;
    },
  ): Promise<{ entries: SyncLogRecord[]; next: number | null }> {
    const row = await this.row(accountId, name);
    if (query.action !== undefined && !LOG_ACTIONS.includes(query.action as LogAction))
      throw new AppError('invalid', `"action" must be one of ${LOG_ACTIONS.join(', ')}.`);
    if (query.status !== undefined && !LOG_STATUSES.includes(query.status as LogStatus))
      throw new AppError('invalid', `"status" must be one of ${LOG_STATUSES.join(', ')}.`);
    const entries = await this.store.listLog(row.id, {
      limit: query.limit,
      ...(query.action !== undefined ? { action: query.action as LogAction } : {}),
      ...(query.status !== undefined ? { status: query.status as LogStatus } : {}),
      ...(query.objectId !== undefined ? { objectId: query.objectId } : {}),
      ...(query.cycle !== undefined ? { cycleId: query.cycle } : {}),
      ...(query.before !== undefined ? { beforeId: query.before } : {}),
    });
    return {
      entries: entries.map((e) => ({ ...e, jobId: name })),
      next: entries.length === query.limit ? (entries.at(-1)?.id ?? null) : null,
    };
  }

  /**
   * The log for export: every entry matching the filters, newest first, read in pages of
   * 1,000 and bounded to `max` entries (`truncated` says older ones were left out).
   */
  async exportLog(
    accountId: string,
    name: string,
    filters: { action?: string; status?: string; objectId?: string; cycle?: string },
    max = MAX_EXPORT_ENTRIES,
  ): Promise<{ entries: SyncLogRecord[]; truncated: boolean }> {
    const entries: SyncLogRecord[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await this.log(accountId, name, {
        ...filters,
        limit: Math.min(1000, max - entries.length),
        ...(before !== undefined ? { before } : {}),
      });
      entries.push(...page.entries);
      if (page.next === null) return { entries, truncated: false };
      before = page.next;
      if (entries.length >= max) {
        const more = await this.log(accountId, name, { ...filters, limit: 1, before });
        return { entries, truncated: more.entries.length > 0 };
      }
    }
  }

  /**
   * The scheduler's step: claims every job whose next run is due (one conditional UPDATE
   * each, so of several processes one claims it) and starts its cycle; the cycle itself
   * runs under the job's lease. Returns the ids started.
   */
  async runDue(now = new Date()): Promise<string[]> {
    if (this.closed) return [];
    const due = await this.store.dueJobs(now.toISOString(), 50);
    const started: string[] = [];
    for (const row of due) {
      if (this.isRunning(row)) continue;
      const config = JSON.parse(row.config) as JobConfig;
      const health = row.health;
      // Quarantined: one cycle a day (Entra). Paused by staged deletes: none until allowed.
      const minutes = scheduleMinutes(
        Math.max(1, config.scheduleMinutes ?? DEFAULT_SCHEDULE_MINUTES),
        health,
      );
      const paused = isPaused(health);
      const claimed = await this.store.claimRun(
        row.id,
        row.nextRunAt,
        new Date(now.getTime() + minutes * 60_000).toISOString(),
      );
      if (!claimed || paused) continue;
      this.start(row);
      started.push(row.id);
    }
    return started;
  }

  /**
   * Stops the job's running cycle: no further operation starts, those under way finish and
   * are logged, and the cycle ends "stopped" without moving the watermark (the next cycle
   * reads the same changes). Only a cycle run by this process can be stopped (409 else).
   */
  async stop(accountId: string, name: string): Promise<{ stopping: true }> {
    const row = await this.row(accountId, name);
    const controller = this.stops.get(row.id);
    if (controller !== undefined) {
      controller.abort();
      return { stopping: true };
    }
    if (!this.isRunning(row)) throw new AppError('conflict', `job ${name} is not running.`);
    // Run by another process: it reads the request within a second and stops there.
    await this.store.requestStop(row.id, new Date().toISOString());
    return { stopping: true };
  }

  /** Waits for the cycles this instance started; starts no more. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }

  private start(row: StoredSyncJob): void {
    if (this.closed) throw new AppError('conflict', 'the server is stopping; try again later.');
    const config = JSON.parse(row.config) as JobConfig;
    const withToken: JobConfig = {
      ...config,
      target: { ...config.target, token: row.token ?? '' },
    };
    progress.start(row.id);
    const controller = new AbortController();
    this.stops.set(row.id, controller);
    // Shared with the other processes each second: the progress, and a stop asked there.
    const shared = this.shareCycle(row.id, controller);
    const run = runCycle(withToken, {
      state: this.store,
      signal: controller.signal,
      owner: `${hostname()}:${process.pid}:${randomUUID()}`,
      onProgress: (done, total) => progress.record(row.id, done, total),
    })
      .then(() => undefined)
      .catch((error: unknown) => {
        if (!(error instanceof JobBusyError)) this.options.onError?.(error, row.id);
      })
      .finally(async () => {
        await shared.end();
        if (this.stops.get(row.id) === controller) this.stops.delete(row.id);
        progress.end(row.id);
        this.running.delete(run);
      });
    this.running.add(run);
  }

  /**
   * Each second while this process runs the job's cycle: writes its progress for the other
   * processes, and aborts the cycle when an admin asked one of them to stop it. `end`
   * clears both once the cycle is over.
   */
  private shareCycle(jobId: string, controller: AbortController): { end: () => Promise<void> } {
    let busy: Promise<void> = this.store.clearCycleControl(jobId).catch(() => undefined);
    const tick = async () => {
      const control = await this.store.cycleControl(jobId);
      if (control.stopRequestedAt !== null) controller.abort();
      const view = progress.view(jobId);
      if (view !== null)
        await this.store.saveProgress(jobId, {
          done: view.done,
          total: view.total,
          startedAt: view.startedAt,
          at: new Date().toISOString(),
        });
    };
    const timer = setInterval(() => {
      busy = busy.then(tick).catch(() => undefined);
    }, SHARE_EVERY_MS);
    return {
      end: async () => {
        clearInterval(timer);
        await busy;
        await this.store.clearCycleControl(jobId).catch(() => undefined);
      },
    };
  }

  /** The progress another process wrote for the cycle it runs (null when stale or none). */
  private async sharedProgress(jobId: string): Promise<ProgressView | null> {
    const shared = (await this.store.cycleControl(jobId)).progress;
    if (shared === null || Date.parse(shared.at) < Date.now() - 10 * SHARE_EVERY_MS) return null;
    const elapsed = Math.max(0, Date.parse(shared.at) - Date.parse(shared.startedAt));
    return {
      done: shared.done,
      total: shared.total,
      startedAt: shared.startedAt,
      etaSeconds:
        shared.done === 0
          ? null
          : Math.round(((elapsed / shared.done) * Math.max(0, shared.total - shared.done)) / 1000),
    };
  }

  private isRunning(row: StoredSyncJob): boolean {
    return (
      row.leaseOwner !== null &&
      row.leaseUntil !== null &&
      row.leaseUntil > new Date().toISOString()
    );
  }

  private async row(accountId: string, name: string): Promise<StoredSyncJob> {
    const row = await this.store.job(internalId(accountId, name));
    if (row === undefined || row.accountId !== accountId)
      throw new AppError('not_found', `sync job ${name} does not exist`);
    return row;
  }

  private sourceRoot(): string | undefined {
    const root = this.options.sourceDir ?? process.env['ROSTER_SYNC_SOURCE_DIR'];
    return root === undefined || root === '' ? undefined : root;
  }

  private accountDir(accountId: string): string {
    const root = this.sourceRoot();
    if (root === undefined)
      throw new AppError(
        'invalid',
        "this server has no source directory for sync jobs: set ROSTER_SYNC_SOURCE_DIR and put each account's files in <dir>/<account id>/.",
      );
    return resolve(root, accountId);
  }
}

/** A source that cannot be read or a mapping that does not compile: the admin's to fix (400). */
function sourceProblem(error: unknown): unknown {
  if (
    error instanceof SourceError ||
    error instanceof MappingError ||
    error instanceof ScopeError ||
    error instanceof ScopingError ||
    error instanceof JobConfigError
  )
    return new AppError('invalid', error.message);
  return error;
}

/** How often a running cycle shares its progress and reads a stop asked elsewhere. */
const SHARE_EVERY_MS = 1000;

/** How long a preview's id allows its change to be saved. */
const PREVIEW_TTL_MS = 3_600_000;

/**
 * The id of the change from `stored` to `next` in what a preview shows (source, mappings,
 * scoping), bound to the stored job; null when none of them changes.
 */
function changeId(stored: JobConfig, next: JobConfig): string | null {
  const part = (c: JobConfig) => ({
    source: c.source,
    mappings: c.mappings ?? DEFAULT_MAPPINGS,
    scope: c.scope ?? {},
  });
  const from = canonicalJson(part(stored));
  const to = canonicalJson(part(next));
  if (from === to) return null;
  return createHash('sha256').update(`${from}\n${to}`).digest('hex').slice(0, 32);
}

/** Job ids are per account; the stored id carries the account so two accounts may share a name. */
function internalId(accountId: string, name: string): string {
  return `${accountId}.${name}`;
}
function nameOf(accountId: string, id: string): string {
  return id.slice(accountId.length + 1);
}

function sourcePaths(config: JobConfig): string[] {
  if (config.source.type === 'ldap' || config.source.type === 'scim') return [];
  return config.source.type === 'json'
    ? [config.source.path]
    : [config.source.users, ...(config.source.groups !== undefined ? [config.source.groups] : [])];
}
