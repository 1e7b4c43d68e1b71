import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import yaml from 'js-yaml';
import { expressionEngine } from './expressions/index.js';
import { scopeFilterEvaluator } from './scoping/index.js';
import { executePlan, type ExecutionResult } from './executor.js';
import { CycleGuard, type FailurePolicy } from './failure.js';
import { validateFailureSettings } from './failure-config.js';
import { notifyHealth, type Notifier } from './notify.js';
import { CycleJournal } from './journal.js';
import { compileMappings, type ExpressionEngine } from './mapping/compile.js';
import { DEFAULT_MAPPINGS, type ObjectMappings } from './mapping/mappings.js';
import { linkKey, planCycle } from './planner.js';
import { buildScope, type ScopeConfig, type ScopeFilterEvaluator } from './scope.js';
import { CsvFileSource } from './sources/csv-file.js';
import { JsonFileSource } from './sources/json-file.js';
import { LdapSource } from './sources/ldap.js';
import { ScimSource } from './sources/scim.js';
import type { Source, SourceReadStats } from './sources/source.js';
import type { CycleKind, JobHealth, Link, SyncStateStore } from './state.js';
import { ScimTargetClient } from './target/client.js';
import { DIALECTS, type Dialect } from './target/dialect.js';

/** A job: where to read, where to write, and how (docs/engine.md, "The job file"). */
export interface JobConfig {
  readonly id: string;
  readonly source:
    | { readonly type: 'json'; readonly path: string }
    | { readonly type: 'csv'; readonly users: string; readonly groups?: string }
    | LdapJobSource
    | ScimJobSource;
  readonly target: {
    readonly url: string;
    /** The bearer token; or `tokenEnv`, the environment variable holding it. */
    readonly token?: string;
    readonly tokenEnv?: string;
    readonly dialect?: Dialect;
    readonly concurrency?: number;
    readonly membersPerPatch?: number;
    readonly timeoutMs?: number;
    /** Creates of one type from which the target is listed once and matched in memory (default 50). */
    readonly inventoryThreshold?: number;
    /** Requests started per second at most (default: no limit; throttling adapts below it). */
    readonly maxRequestsPerSecond?: number;
    /** Attempts of a request answered 5xx or lost on the network (default 4). */
    readonly maxAttempts?: number;
  };
  readonly mappings?: ObjectMappings;
  readonly scope?: ScopeConfig;
  /** Minutes between scheduled cycles (default 40, at least 1). */
  readonly scheduleMinutes?: number;
  /** Escrow schedule and quarantine thresholds (Entra's by default; src/sync/failure.ts). */
  readonly failures?: FailurePolicy;
  /** Disables + deletes one cycle may do; more pauses the job until an admin allows them. */
  readonly deletionThreshold?: number;
  /** Who is mailed on quarantine and staged deletes (SMTP from ROSTER_SMTP_URL). */
  readonly notify?: { readonly email?: readonly string[] };
  /** The admin API saves a mapping, scoping or source change only after its impact preview. */
  readonly requirePreview?: boolean;
}

/** An LDAP source in a job (docs/engine.md, "LDAP"); the password is never stored. */
export interface LdapJobSource {
  readonly type: 'ldap';
  readonly url: string;
  readonly bindDn?: string;
  readonly password?: string;
  /** The environment variable holding the bind password. */
  readonly passwordEnv?: string;
  readonly baseDn: string;
  readonly userFilter?: string;
  readonly groupFilter?: string;
  readonly pageSize?: number;
  readonly userPrincipalNameAttribute?: string;
  readonly accountEnabledAttribute?: string;
  readonly timeoutMs?: number;
  /** Seconds of overlap of incremental reads (default 60). */
  readonly overlapSeconds?: number;
}

/** Another SCIM endpoint as a source (docs/engine.md, "SCIM"); the token is never stored. */
export interface ScimJobSource {
  readonly type: 'scim';
  /** The base URL, without /Users. */
  readonly url: string;
  readonly token?: string;
  /** The environment variable holding the bearer token. */
  readonly tokenEnv?: string;
  readonly pageSize?: number;
  readonly timeoutMs?: number;
  /** Seconds of overlap of incremental reads (default 60). */
  readonly overlapSeconds?: number;
}

function validateScimSource(source: Record<string, unknown>, where: string): ScimJobSource {
  let url: URL | undefined;
  try {
    url = typeof source.url === 'string' ? new URL(source.url) : undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new JobConfigError(
      `${where}: "source.url" must be the source's SCIM base URL, http(s)://host/path (without /Users)`,
    );
  for (const key of ['token', 'tokenEnv'] as const)
    if (source[key] !== undefined && typeof source[key] !== 'string')
      throw new JobConfigError(`${where}: "source.${key}" must be a string`);
  for (const key of ['pageSize', 'timeoutMs'] as const)
    if (
      source[key] !== undefined &&
      !(Number.isInteger(source[key]) && (source[key] as number) >= 1)
    )
      throw new JobConfigError(`${where}: "source.${key}" must be a whole number ≥ 1`);
  checkOverlap(source, where);
  const known = ['type', 'url', 'token', 'tokenEnv', 'pageSize', 'timeoutMs', 'overlapSeconds'];
  const unknown = Object.keys(source).find((k) => !known.includes(k));
  if (unknown !== undefined)
    throw new JobConfigError(`${where}: "source.${unknown}" is not a SCIM source setting`);
  return { ...(source as unknown as ScimJobSource), url: String(source.url).replace(/\/+$/, '') };
}

const LDAP_STRING_KEYS = [
  'bindDn',
  'password',
  'passwordEnv',
  'userFilter',
  'groupFilter',
  'userPrincipalNameAttribute',
  'accountEnabledAttribute',
] as const;

function validateLdapSource(source: Record<string, unknown>, where: string): LdapJobSource {
  if (typeof source.url !== 'string' || !/^ldaps?:\/\/[^/]+\/?$/i.test(source.url))
    throw new JobConfigError(
      `${where}: "source.url" must be ldap://host:port or ldaps://host:port`,
    );
  if (typeof source.baseDn !== 'string' || source.baseDn.trim() === '')
    throw new JobConfigError(`${where}: "source.baseDn" is required for an LDAP source`);
  for (const key of LDAP_STRING_KEYS)
    if (source[key] !== undefined && typeof source[key] !== 'string')
      throw new JobConfigError(`${where}: "source.${key}" must be a string`);
  for (const key of ['pageSize', 'timeoutMs'] as const)
    if (
      source[key] !== undefined &&
      !(Number.isInteger(source[key]) && (source[key] as number) >= 1)
    )
      throw new JobConfigError(`${where}: "source.${key}" must be a whole number ≥ 1`);
  checkOverlap(source, where);
  return { ...(source as unknown as LdapJobSource), url: source.url.replace(/\/$/, '') };
}

function checkOverlap(source: Record<string, unknown>, where: string): void {
  const overlap = source.overlapSeconds;
  if (overlap !== undefined && !(Number.isInteger(overlap) && (overlap as number) >= 0))
    throw new JobConfigError(`${where}: "source.overlapSeconds" must be a whole number ≥ 0`);
}

export class JobConfigError extends Error {
  override name = 'JobConfigError';
}

/** Reads a job file (JSON or YAML); relative source paths are relative to the file. */
export async function loadJobFile(path: string): Promise<JobConfig[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new JobConfigError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let document: unknown;
  try {
    document = /\.ya?ml$/i.test(path) ? yaml.load(text) : JSON.parse(text);
  } catch (error) {
    throw new JobConfigError(`${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = Array.isArray(document)
    ? document
    : typeof document === 'object' && document !== null && 'jobs' in document
      ? (document as { jobs: unknown }).jobs
      : [document];
  if (!Array.isArray(list)) throw new JobConfigError(`${path}: "jobs" must be a list`);
  const base = dirname(resolve(path));
  return list.map((raw, i) => validateJob(raw, `${path}: job ${i + 1}`, base));
}

export function validateJob(raw: unknown, where: string, base = process.cwd()): JobConfig {
  const job = raw as Partial<JobConfig> | null;
  if (typeof job !== 'object' || job === null)
    throw new JobConfigError(`${where}: expected an object`);
  if (typeof job.id !== 'string' || !/^[A-Za-z0-9][\w.-]{0,99}$/.test(job.id))
    throw new JobConfigError(`${where}: "id" must be a name of letters, digits, . _ -`);
  const source = job.source as Record<string, unknown> | undefined;
  let resolved: JobConfig['source'];
  if (source?.type === 'json' && typeof source.path === 'string') {
    resolved = { type: 'json', path: resolve(base, source.path) };
  } else if (source?.type === 'csv' && typeof source.users === 'string') {
    resolved = {
      type: 'csv',
      users: resolve(base, source.users),
      ...(typeof source.groups === 'string' ? { groups: resolve(base, source.groups) } : {}),
    };
  } else if (source?.type === 'ldap') {
    resolved = validateLdapSource(source, where);
  } else if (source?.type === 'scim') {
    resolved = validateScimSource(source, where);
  } else {
    throw new JobConfigError(
      `${where}: "source" must be {"type":"json","path":…}, {"type":"csv","users":…,"groups"?:…}, {"type":"ldap","url":…,"baseDn":…} or {"type":"scim","url":…,"tokenEnv":…}`,
    );
  }
  const target = job.target;
  if (typeof target !== 'object' || target === null || typeof target.url !== 'string')
    throw new JobConfigError(`${where}: "target.url" is required`);
  if (target.dialect !== undefined && !DIALECTS.includes(target.dialect))
    throw new JobConfigError(`${where}: "target.dialect" must be one of ${DIALECTS.join(', ')}`);
  if (
    job.scheduleMinutes !== undefined &&
    !(Number.isInteger(job.scheduleMinutes) && job.scheduleMinutes >= 1)
  )
    throw new JobConfigError(`${where}: "scheduleMinutes" must be a whole number ≥ 1`);
  validateFailureSettings(job as Record<string, unknown>, where, (m) => new JobConfigError(m));
  if (job.requirePreview !== undefined && typeof job.requirePreview !== 'boolean')
    throw new JobConfigError(`${where}: "requirePreview" must be true or false`);
  return { ...job, source: resolved, target } as JobConfig;
}

export function sourceFor(config: JobConfig): Source {
  const { source } = config;
  if (source.type === 'json') return new JsonFileSource(source.path);
  if (source.type === 'csv') return new CsvFileSource(source.users, source.groups);
  if (source.type === 'scim') {
    const { type: _type, token, tokenEnv, ...scim } = source;
    const secret = token ?? (tokenEnv ? process.env[tokenEnv] : undefined);
    if (!secret)
      throw new JobConfigError(
        `job ${config.id}: no SCIM source token (source.token or source.tokenEnv)`,
      );
    return new ScimSource({ ...scim, token: secret });
  }
  const { type: _type, passwordEnv, password, ...ldap } = source;
  const secret = password ?? (passwordEnv ? process.env[passwordEnv] : undefined);
  if (ldap.bindDn !== undefined && secret === undefined)
    throw new JobConfigError(
      `job ${config.id}: no LDAP bind password (source.password or source.passwordEnv)`,
    );
  return new LdapSource({ ...ldap, ...(secret !== undefined ? { password: secret } : {}) });
}

/** Mappings and scoping decide what a full cycle is; their hash says when they change. */
export function configHash(config: JobConfig): string {
  const basis = JSON.stringify({
    mappings: config.mappings ?? DEFAULT_MAPPINGS,
    scope: config.scope ?? {},
  });
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

/** The job as stored: never the target's or the SCIM source's token, nor an LDAP password. */
function storedConfig(config: JobConfig): unknown {
  const { token: _token, ...target } = config.target;
  const source =
    config.source.type === 'ldap'
      ? (({ password: _password, ...rest }) => rest)(config.source)
      : config.source.type === 'scim'
        ? (({ token: _token, ...rest }) => rest)(config.source)
        : config.source;
  return { ...config, source, target };
}

export interface RunOptions {
  readonly state: SyncStateStore;
  /** Entra's expression language by default (src/sync/expressions). */
  readonly expressions?: ExpressionEngine;
  /** Entra's scoping filters by default (src/sync/scoping). */
  readonly scopeFilters?: ScopeFilterEvaluator;
  /** Forces an initial (full) cycle, as Entra's "restart" does; links survive. */
  readonly full?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /** Lease holder name; a random one by default. */
  readonly owner?: string;
  /** The clock of escrow and quarantine (tests move it; the system clock by default). */
  readonly now?: () => Date;
  /** How the client waits (Retry-After, backoff, rate); tests record instead of sleeping. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Sends the quarantine and staged-delete e-mails; from ROSTER_SMTP_URL by default. */
  readonly notifier?: Notifier;
  /** Aborted: no further operation starts, the cycle ends "stopped", the watermark stays. */
  readonly signal?: AbortSignal;
}

export interface CycleSummary extends ExecutionResult {
  readonly jobId: string;
  readonly cycleId: string;
  readonly kind: CycleKind;
  readonly status: 'succeeded' | 'failed' | 'stopped';
  readonly inScope: { users: number; groups: number };
  readonly durationMs: number;
  readonly requests: number;
  readonly retries: number;
  readonly throttled: number;
  /** How the source read (LDAP and SCIM sources): full or delta, objects read, deletions. */
  readonly source?: SourceReadStats;
  readonly throttleWaitMs: number;
  /** The adaptive window and rate (null: never throttled): where they ended, their lowest. */
  readonly concurrency: {
    readonly final: number;
    readonly min: number;
    readonly rate: number | null;
    readonly minRate: number | null;
  };
  readonly escrow: { deferred: number; waiting: number; dropped: number };
  readonly referenceFailures: number;
  /** Disables and deletes held back by the deletion threshold. */
  readonly staged: number;
  readonly quarantine: JobHealth['quarantine'];
}

function round1(n: number | null): number | null {
  return n === null ? null : Math.round(n * 10) / 10;
}

/** True for an owner `host:pid:…` on this host whose process is gone. */
function isDeadLocalOwner(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class JobBusyError extends Error {
  override name = 'JobBusyError';
}

const LEASE_MS = 60_000;

/** One cycle of a job: read, plan, execute, save the watermark. */
export async function runCycle(config: JobConfig, options: RunOptions): Promise<CycleSummary> {
  const started = performance.now();
  const token =
    config.target.token ??
    (config.target.tokenEnv ? process.env[config.target.tokenEnv] : undefined);
  if (!token)
    throw new JobConfigError(`job ${config.id}: no target token (target.token or target.tokenEnv)`);
  const mappings = compileMappings(
    config.mappings ?? DEFAULT_MAPPINGS,
    options.expressions ?? expressionEngine,
  );
  const now = options.now ?? (() => new Date());
  const client = new ScimTargetClient(
    {
      url: config.target.url,
      token,
      maxConcurrency: Math.max(1, config.target.concurrency ?? 16),
      ...(config.target.timeoutMs !== undefined ? { timeoutMs: config.target.timeoutMs } : {}),
      ...(config.target.maxAttempts !== undefined
        ? { maxAttempts: config.target.maxAttempts }
        : {}),
      ...(config.target.maxRequestsPerSecond !== undefined
        ? { maxRequestsPerSecond: config.target.maxRequestsPerSecond }
        : {}),
    },
    options.sleep,
    () => now().getTime(),
  );
  const { state } = options;
  const hash = configHash(config);
  const job = await state.saveJob(config.id, storedConfig(config), hash);
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID()}`;
  if (!(await state.acquireLease(config.id, owner, LEASE_MS))) {
    // A lease held by a process of this machine that no longer exists (killed mid-cycle)
    // is taken over at once rather than after it expires.
    const stale = job.leaseOwner;
    if (
      stale === null ||
      !isDeadLocalOwner(stale) ||
      !(await state.takeOverLease(config.id, stale, owner, LEASE_MS))
    )
      throw new JobBusyError(
        `job ${config.id} is running in another process (${stale ?? 'unknown'})`,
      );
  }
  const renew = setInterval(
    () => void state.renewLease(config.id, owner, LEASE_MS).catch(() => undefined),
    LEASE_MS / 3,
  );
  try {
    const kind: CycleKind =
      options.full || job.watermark === null || job.watermarkHash !== hash
        ? 'initial'
        : 'incremental';
    const guard = await CycleGuard.open(state, config.id, {
      ...(config.failures !== undefined ? { policy: config.failures } : {}),
      ...(config.deletionThreshold !== undefined
        ? { deletionThreshold: config.deletionThreshold }
        : {}),
      now: now(),
    });
    const source = sourceFor(config);
    // A retry that is due needs its object: an incremental cycle then reads everything.
    const snapshot = await source.read(
      kind === 'initial' || guard.retryDue ? null : job.watermark,
      {
        cache: {
          load: () => state.loadSourceCache(config.id),
          save: (update) => state.saveSourceCache(config.id, update),
        },
      },
    );
    const scope = buildScope(
      config.scope ?? {},
      snapshot,
      options.scopeFilters ?? scopeFilterEvaluator,
    );
    const links = new Map<string, Link>();
    for (const link of await state.loadLinks(config.id))
      links.set(linkKey(link.objectType, link.sourceId), link);
    const plan = guard.filter(
      planCycle({ snapshot, links, mappings, scope, logSkips: kind === 'initial' }),
    );
    const cycle = await state.startCycle(config.id, kind);
    const journal = new CycleJournal(state, config.id, links);
    guard.logStaged(journal, cycle.id);
    let result: ExecutionResult;
    try {
      result = await executePlan(plan, {
        client,
        dialect: config.target.dialect ?? 'entra',
        journal,
        jobId: config.id,
        cycleId: cycle.id,
        ...(config.target.concurrency !== undefined
          ? { concurrency: config.target.concurrency }
          : {}),
        ...(config.target.membersPerPatch !== undefined
          ? { membersPerPatch: config.target.membersPerPatch }
          : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(config.target.inventoryThreshold !== undefined
          ? { inventoryThreshold: config.target.inventoryThreshold }
          : {}),
        onFailure: (failure) => guard.onFailure(failure),
        onFatal: (code, detail) => guard.onFatal(code, detail),
        shouldStop: () => options.signal?.aborted === true,
      });
    } catch (error) {
      await journal.flush().catch(() => undefined);
      await state.finishCycle(cycle.id, 'failed', { error: String(error) });
      throw error;
    }
    const successes = [result.users, result.groups].reduce(
      (n, c) => n + (c.create ?? 0) + (c.update ?? 0) + (c.disable ?? 0) + (c.delete ?? 0),
      0,
    );
    const outcome = await guard.finish(cycle.id, successes, snapshot);
    const summary: CycleSummary = {
      jobId: config.id,
      cycleId: cycle.id,
      kind,
      status:
        outcome.health.quarantine !== null
          ? 'failed'
          : options.signal?.aborted === true
            ? 'stopped'
            : 'succeeded',
      inScope: plan.inScope,
      ...result,
      durationMs: Math.round(performance.now() - started),
      ...client.stats,
      ...(snapshot.stats !== undefined ? { source: snapshot.stats } : {}),
      concurrency: {
        final: client.pacer.stats.concurrency,
        min: client.pacer.stats.minConcurrency,
        rate: round1(client.pacer.stats.rate),
        minRate: round1(client.pacer.stats.minRate),
      },
      escrow: outcome.escrow,
      referenceFailures: outcome.referenceFailures,
      staged: outcome.staged,
      quarantine: outcome.health.quarantine,
    };
    // Failed objects keep their old links and wait in escrow; the cycle itself completed.
    // After a job-level fault or staged deletes, the next cycle reads the same changes.
    // A stopped cycle left changes unsent: the next one reads them again.
    if (outcome.advanceWatermark && options.signal?.aborted !== true)
      await state.setWatermark(config.id, snapshot.watermark, hash);
    await state.finishCycle(cycle.id, summary.status, summary);
    await notifyHealth(state, config, outcome, options.notifier);
    return summary;
  } finally {
    clearInterval(renew);
    await state.releaseLease(config.id, owner).catch(() => undefined);
  }
}
