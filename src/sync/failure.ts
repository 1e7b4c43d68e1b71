import { createHash } from 'node:crypto';
import type { CycleJournal } from './journal.js';
import type { Plan, RemovalOperation, UpsertOperation } from './planner.js';
import { linkKey } from './planner.js';
import type { SourceSnapshot } from './sources/source.js';
import type {
  Escrow,
  JobHealth,
  LogAction,
  LogStep,
  ObjectType,
  Quarantine,
  QuarantineCode,
  StagedDeletes,
  SyncStateStore,
} from './state.js';

/**
 * Failure handling around one cycle (docs/engine.md, "Failures"): escrow and retry of
 * failed objects on Entra's schedule, quarantine by Entra's rules, and the accidental-
 * deletion threshold. The planner stays pure; this module filters its plan before the
 * executor runs and reads the executor's failures after.
 */

/** The job's `failures` settings; every number defaults to Entra's. */
export interface FailurePolicy {
  /** Hours after the first failure of the first retries (Entra: 6, 12, 24). */
  readonly retryAfterHours?: readonly number[];
  /** Then one retry every this many hours (Entra: daily). */
  readonly retryEveryHours?: number;
  /** An object failing this long is dropped from escrow (Entra: 28 days). */
  readonly dropAfterDays?: number;
  readonly quarantine?: {
    /** Failures below this never quarantine for their number (Entra: 5,000). */
    readonly minFailures?: number;
    /** …above it, quarantine when more than this share of events failed (Entra: 0.4)… */
    readonly ratio?: number;
    /** …or more than this many failed (Entra: 40,000)… */
    readonly failures?: number;
    /** …and this many failures quarantine in any case (Entra: 60,000). */
    readonly always?: number;
  };
}

export const ENTRA_POLICY = {
  retryAfterHours: [6, 12, 24],
  retryEveryHours: 24,
  dropAfterDays: 28,
  quarantine: { minFailures: 5_000, ratio: 0.4, failures: 40_000, always: 60_000 },
} as const;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** When an object that has failed `attempts` times since `firstFailedAt` is tried again; null → dropped. */
export function nextRetry(
  firstFailedAt: Date,
  attempts: number,
  policy: FailurePolicy = {},
): Date | null {
  const offsets = policy.retryAfterHours ?? ENTRA_POLICY.retryAfterHours;
  const every = policy.retryEveryHours ?? ENTRA_POLICY.retryEveryHours;
  const drop = policy.dropAfterDays ?? ENTRA_POLICY.dropAfterDays;
  const hours =
    attempts <= offsets.length
      ? offsets[attempts - 1]!
      : (offsets.at(-1) ?? 0) + (attempts - offsets.length) * every;
  const at = firstFailedAt.getTime() + hours * HOUR;
  return at > firstFailedAt.getTime() + drop * DAY ? null : new Date(at);
}

export interface QuarantineCounts {
  /** Objects that failed (in this cycle, or still waiting in escrow); references apart. */
  readonly failures: number;
  /** Objects processed: successes + failures. */
  readonly events: number;
}

/** Entra's escrow-proportion rule: true when the job goes into quarantine. */
export function crossesQuarantineThreshold(
  counts: QuarantineCounts,
  policy: FailurePolicy = {},
): boolean {
  const q = { ...ENTRA_POLICY.quarantine, ...policy.quarantine };
  if (counts.failures >= q.always) return true;
  if (counts.failures < q.minFailures) return false;
  return counts.failures > q.failures || counts.failures / Math.max(1, counts.events) > q.ratio;
}

const QUARANTINE_TEXT: Record<QuarantineCode, { reason: string; fix: string }> = {
  invalid_credentials: {
    reason: 'EncounteredQuarantineException',
    fix: 'The target refused the token (401). Give the job a valid SCIM token (target.token), then restart the job (bin/roster sync restart --job JOB, or POST /sync/jobs/JOB/restart).',
  },
  scim_compliance: {
    reason: 'EncounteredQuarantineException',
    fix: 'The target answered a SCIM query with 404, where RFC 7644 §3.4.2 asks for a ListResponse (empty when nothing matches). Check the tenant URL (it must end before /Users) and the target’s filter support, then restart the job.',
  },
  escrow_threshold: {
    reason: 'EncounteredEscrowProportionThreshold',
    fix: 'Too many objects failed. Read the failures (bin/roster sync log --job JOB --status failure), fix the mappings or the target, then restart the job.',
  },
};

export function quarantineFor(
  code: QuarantineCode,
  detail: string,
  cycleId: string,
  now: Date,
  since?: string,
): Quarantine {
  return {
    code,
    reason: QUARANTINE_TEXT[code].reason,
    detail,
    fix: QUARANTINE_TEXT[code].fix,
    since: since ?? now.toISOString(),
    cycleId,
  };
}

/** What the planned operation would do: a different fingerprint means the object changed. */
export function fingerprintOf(op: UpsertOperation | RemovalOperation): string {
  const basis =
    'desired' in op
      ? JSON.stringify([op.kind, op.desired, op.changes])
      : JSON.stringify([op.kind, op.targetId]);
  return createHash('sha256').update(basis).digest('hex').slice(0, 16);
}

/** A failure the executor logged, as the guard sees it. */
export interface ObjectFailure {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly action: LogAction;
  readonly status: number | null;
  readonly error: string;
  /** A manager or membership reference: counted apart, never escrowed. */
  readonly reference: boolean;
}

export interface GuardOutcome {
  readonly health: JobHealth;
  /** The health before the cycle (notifications compare). */
  readonly before: JobHealth;
  /** False when changes may have been left behind: the next cycle reads them again. */
  readonly advanceWatermark: boolean;
  readonly escrow: {
    /** Objects not tried this cycle: their retry is not due yet (or they were dropped). */
    deferred: number;
    /** Objects in escrow after the cycle (dropped ones included). */
    waiting: number;
    /** Objects that reached the end of their schedule in this cycle. */
    dropped: number;
  };
  readonly referenceFailures: number;
  readonly objectFailures: number;
  readonly staged: number;
}

/**
 * One cycle's failure handling. open() → filter(plan) → (executor, calling onFailure and
 * onFatal) → finish(). The clock is injected so tests move time without sleeping.
 */
export class CycleGuard {
  private readonly fingerprints = new Map<string, string>();
  private readonly failures = new Map<string, ObjectFailure>();
  private readonly nextRetries = new Map<string, string | null>();
  private deferred = 0;
  private deferredCounted = 0;
  private attempted = new Set<string>();
  private stagedOps: RemovalOperation[] = [];
  private fatalCode: { code: QuarantineCode; detail: string } | null = null;
  private referenceFailures = 0;
  private objectFailures = 0;

  private constructor(
    private readonly state: SyncStateStore,
    private readonly jobId: string,
    private readonly policy: FailurePolicy,
    private readonly deletionThreshold: number | undefined,
    private readonly now: Date,
    private readonly escrows: Map<string, Escrow>,
    private readonly health: JobHealth,
  ) {}

  static async open(
    state: SyncStateStore,
    jobId: string,
    options: { policy?: FailurePolicy; deletionThreshold?: number; now: Date },
  ): Promise<CycleGuard> {
    const escrows = new Map<string, Escrow>();
    for (const e of await state.loadEscrows(jobId))
      escrows.set(linkKey(e.objectType, e.sourceId), e);
    return new CycleGuard(
      state,
      jobId,
      options.policy ?? {},
      options.deletionThreshold,
      options.now,
      escrows,
      await state.getHealth(jobId),
    );
  }

  /** True when an escrowed object's retry is due: an incremental cycle then reads everything. */
  get retryDue(): boolean {
    const now = this.now.toISOString();
    for (const e of this.escrows.values())
      if (e.nextRetryAt !== null && e.nextRetryAt <= now) return true;
    return false;
  }

  get fatal(): boolean {
    return this.fatalCode !== null;
  }

  /** After filter(): objects held back by escrow, and removals staged by the threshold. */
  get held(): { deferred: number; staged: readonly RemovalOperation[] } {
    return { deferred: this.deferred, staged: this.stagedOps };
  }

  /** Takes out of the plan what waits in escrow, and stages removals past the threshold. */
  filter(plan: Plan): Plan {
    const now = this.now.toISOString();
    const keep = <T extends UpsertOperation | RemovalOperation>(op: T): boolean => {
      const key = linkKey(op.objectType, op.sourceId);
      const fingerprint = fingerprintOf(op);
      this.fingerprints.set(key, fingerprint);
      const escrow = this.escrows.get(key);
      const wait =
        escrow !== undefined &&
        escrow.fingerprint === fingerprint &&
        (escrow.nextRetryAt === null || escrow.nextRetryAt > now);
      if (wait) {
        this.deferred++;
        if (escrow.counted) this.deferredCounted++;
        return false;
      }
      this.attempted.add(key);
      return true;
    };
    const upserts = plan.upserts.filter(keep);
    let removals = plan.removals.filter(keep);
    const threshold = this.deletionThreshold;
    if (
      threshold !== undefined &&
      removals.length > threshold &&
      removals.length > this.health.allowedDeletes
    ) {
      this.stagedOps = removals;
      for (const op of removals) this.attempted.delete(linkKey(op.objectType, op.sourceId));
      removals = [];
    }
    return { ...plan, upserts, removals };
  }

  /** Called by the executor for each failure; returns the escrow step for the log entry. */
  onFailure(failure: ObjectFailure): { step: LogStep; nextRetryAt: string | null } | undefined {
    if (failure.reference) {
      this.referenceFailures++;
      return undefined;
    }
    if (failure.action === 'skip') {
      this.objectFailures++;
      return undefined;
    }
    // Failures caused by the job-level fault (401, a 404 to a query) are not the object's.
    if (this.fatalCode !== null && (failure.status === 401 || failure.status === 404))
      return undefined;
    const key = linkKey(failure.objectType, failure.sourceId);
    this.failures.set(key, failure);
    const throttled = failure.status === 429 || failure.status === 503;
    if (!throttled) this.objectFailures++;
    const previous = this.escrows.get(key);
    const first = previous === undefined ? this.now : new Date(previous.firstFailedAt);
    const attempts = (previous?.attempts ?? 0) + 1;
    const next = throttled ? this.now : nextRetry(first, attempts, this.policy);
    const nextRetryAt = next === null ? null : next.toISOString();
    this.nextRetries.set(key, nextRetryAt);
    const detail = throttled
      ? 'throttled beyond every wait: retried next cycle, not counted as a failure'
      : nextRetryAt === null
        ? `failed ${attempts} times since ${first.toISOString()}: dropped from escrow (retried when the object changes, or after a restart)`
        : `in escrow: attempt ${attempts} failed; next retry at ${nextRetryAt}`;
    return { step: { step: 'escrow', detail }, nextRetryAt };
  }

  /** A job-level fault: the executor stops taking work, the job goes into quarantine. */
  onFatal(code: QuarantineCode, detail: string): void {
    this.fatalCode ??= { code, detail };
  }

  /** Staged removals, logged as StagedDelete entries. */
  logStaged(journal: CycleJournal, cycleId: string): void {
    for (const op of this.stagedOps) {
      journal.record({
        jobId: this.jobId,
        cycleId,
        at: this.now.toISOString(),
        objectType: op.objectType,
        sourceId: op.sourceId,
        targetId: op.targetId,
        action: 'stagedDelete',
        status: 'skipped',
        steps: [
          ...op.steps,
          {
            step: 'action',
            detail: `${op.kind} held: this cycle would disable or delete ${this.stagedOps.length} objects, over the job's deletion threshold (${this.deletionThreshold}); allow them with bin/roster sync allow-deletes`,
          },
        ],
        modified: op.kind === 'disable' ? [{ name: 'active', old: true, new: false }] : [],
        targetStatus: null,
        error: null,
        durationMs: 0,
      });
    }
  }

  /** Writes escrows and the job's health after the executor ran. */
  async finish(
    cycleId: string,
    successes: number,
    snapshot: Pick<SourceSnapshot, 'complete'>,
  ): Promise<GuardOutcome> {
    const now = this.now.toISOString();
    const save: Escrow[] = [];
    const clear: { objectType: ObjectType; sourceId: string }[] = [];
    let dropped = 0;
    for (const [key, failure] of this.failures) {
      const previous = this.escrows.get(key);
      const nextRetryAt = this.nextRetries.get(key) ?? null;
      if (nextRetryAt === null && previous?.nextRetryAt !== null) dropped++;
      const throttled = failure.status === 429 || failure.status === 503;
      save.push({
        objectType: failure.objectType,
        sourceId: failure.sourceId,
        action: failure.action,
        firstFailedAt: previous?.firstFailedAt ?? now,
        lastFailedAt: now,
        attempts: (previous?.attempts ?? 0) + 1,
        nextRetryAt,
        lastError: failure.error,
        lastStatus: failure.status,
        fingerprint: this.fingerprints.get(key) ?? 'none',
        counted: !throttled,
      });
    }
    if (this.fatalCode === null) {
      // Tried and not failed: out of escrow. Not planned at all: its change is gone (a
      // complete snapshot shows it) and it leaves escrow too.
      for (const [key, escrow] of this.escrows) {
        if (this.failures.has(key)) continue;
        const planned = this.fingerprints.has(key);
        if ((planned && this.attempted.has(key)) || (!planned && snapshot.complete))
          clear.push({ objectType: escrow.objectType, sourceId: escrow.sourceId });
      }
    }
    if (save.length > 0) await this.state.saveEscrows(this.jobId, save);
    if (clear.length > 0) await this.state.deleteEscrows(this.jobId, clear);
    const waiting =
      this.escrows.size -
      clear.length +
      save.filter((e) => !this.escrows.has(linkKey(e.objectType, e.sourceId))).length;

    const failures = this.objectFailures + this.deferredCounted;
    let quarantine: Quarantine | null = null;
    const since = this.health.quarantine?.since;
    if (this.fatalCode !== null) {
      quarantine = quarantineFor(
        this.fatalCode.code,
        this.fatalCode.detail,
        cycleId,
        this.now,
        this.health.quarantine?.code === this.fatalCode.code ? since : undefined,
      );
    } else if (
      crossesQuarantineThreshold({ failures, events: successes + failures }, this.policy)
    ) {
      quarantine = quarantineFor(
        'escrow_threshold',
        `${failures} of ${successes + failures} objects failed (reference failures, ${this.referenceFailures}, counted apart)`,
        cycleId,
        this.now,
        this.health.quarantine?.code === 'escrow_threshold' ? since : undefined,
      );
    }
    let staged: StagedDeletes | null = null;
    let allowedDeletes = this.health.allowedDeletes;
    if (this.stagedOps.length > 0) {
      staged = {
        cycleId,
        at: now,
        disables: this.stagedOps.filter((o) => o.kind === 'disable').length,
        deletes: this.stagedOps.filter((o) => o.kind === 'delete').length,
        threshold: this.deletionThreshold ?? 0,
      };
    } else if (this.fatalCode === null) {
      allowedDeletes = 0; // an allowance is for one cycle
    } else {
      staged = this.health.staged;
    }
    const health: JobHealth = {
      quarantine,
      staged,
      allowedDeletes,
      notified: this.health.notified,
    };
    await this.state.setHealth(this.jobId, health);
    return {
      health,
      before: this.health,
      advanceWatermark: this.fatalCode === null && this.stagedOps.length === 0,
      escrow: { deferred: this.deferred, waiting, dropped },
      referenceFailures: this.referenceFailures,
      objectFailures: this.objectFailures,
      staged: this.stagedOps.length,
    };
  }
}

export class NothingStagedError extends Error {
  override name = 'NothingStagedError';
}

/** An admin allows the staged disables and deletes: the next cycle runs them (once). */
export async function allowStagedDeletes(
  state: SyncStateStore,
  jobId: string,
): Promise<StagedDeletes> {
  const health = await state.getHealth(jobId);
  if (health.staged === null)
    throw new NothingStagedError(`job ${jobId} has no staged deletes to allow`);
  await state.setHealth(jobId, {
    ...health,
    allowedDeletes: health.staged.disables + health.staged.deletes,
  });
  return health.staged;
}

/** True while staged deletes wait for an admin: the schedule runs no cycle. */
export function isPaused(health: JobHealth): boolean {
  return (
    health.staged !== null && health.allowedDeletes < health.staged.disables + health.staged.deletes
  );
}

/** Minutes to the job's next scheduled cycle: one cycle a day while quarantined (Entra). */
export function scheduleMinutes(minutes: number, health: JobHealth): number {
  return health.quarantine !== null ? Math.max(minutes, 24 * 60) : minutes;
}
