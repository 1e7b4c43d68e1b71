import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { expressionEngine } from './expressions/index.js';
import { executePlan } from './executor.js';
import { CycleGuard } from './failure.js';
import { configHash, JobBusyError, JobConfigError, sourceFor, type JobConfig } from './job.js';
import { CycleJournal } from './journal.js';
import { compileMappings, type ExpressionEngine } from './mapping/compile.js';
import { DEFAULT_MAPPINGS } from './mapping/mappings.js';
import {
  linkKey,
  planCycle,
  type ManagerOperation,
  type MembershipOperation,
  type Plan,
  type RemovalOperation,
  type UpsertOperation,
} from './planner.js';
import { buildScope, type ScopeFilterEvaluator } from './scope.js';
import { evaluateScope, scopeFilterEvaluator, validateScopingFilters } from './scoping/index.js';
import type { SourceGroup, SourceObject, SourceSnapshot } from './sources/source.js';
import type {
  Link,
  LogAction,
  LogStep,
  ModifiedProperty,
  ObjectType,
  SyncStateStore,
} from './state.js';
import { ScimTargetClient, type TargetConfig } from './target/client.js';
import {
  attributesPatch,
  createBody,
  disablePatch,
  equalityFilter,
  managerPatch,
  membersPatch,
  type Dialect,
} from './target/dialect.js';
import { testConnection, type ConnectionCheck } from './target/test-connection.js';

/**
 * Impact preview and provision on demand (docs/engine.md, "Preview and on demand").
 *
 * previewCycle plans the job's next cycle exactly as runCycle would (escrow and the
 * deletion threshold included) and describes it: counts, each object's diff and the exact
 * requests, with nothing sent to the target and nothing written. provisionOnDemand runs
 * Entra's five steps for one user (or one group with up to 5 members), for real.
 */

export interface PlannedRequest {
  readonly method: string;
  /** Below the target URL; `{target id of user u1}` where the id is known only once created. */
  readonly path: string;
  readonly body?: unknown;
  /** When the request is sent only in some cases (a POST after a query that finds nothing). */
  readonly when?: string;
}

export interface PreviewObject {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly action: LogAction | 'reference';
  readonly targetId: string | null;
  readonly modified: readonly ModifiedProperty[];
  readonly steps: readonly LogStep[];
  readonly requests: readonly PlannedRequest[];
}

export interface Preview {
  readonly jobId: string;
  readonly kind: 'initial' | 'incremental';
  readonly inScope: { users: number; groups: number };
  readonly counts: {
    readonly users: Record<'create' | 'update' | 'disable' | 'delete', number>;
    readonly groups: Record<'create' | 'update' | 'delete', number>;
    readonly managers: number;
    readonly memberships: { added: number; removed: number };
    /** Objects the planner could not map (an expression failed): failures, nothing sent. */
    readonly failures: number;
    /** Objects waiting in escrow: not tried in this cycle. */
    readonly deferred: number;
    /** Disables and deletes the deletion threshold would hold back. */
    readonly stagedDeletes: number;
  };
  /** "creates 12, updates 3,204, disables 40". */
  readonly headline: string;
  readonly objects: readonly PreviewObject[];
  /** True when `objects` lists only the first `limit`. */
  readonly truncated: boolean;
}

export interface PreviewOptions {
  readonly state: SyncStateStore;
  /** Objects described one by one (default 200, at most 5,000); the counts cover all. */
  readonly limit?: number;
  readonly full?: boolean;
  readonly now?: () => Date;
  readonly expressions?: ExpressionEngine;
  readonly scopeFilters?: ScopeFilterEvaluator;
}

/** The job's next cycle, described; nothing is sent and nothing is written. */
export async function previewCycle(config: JobConfig, options: PreviewOptions): Promise<Preview> {
  const { state } = options;
  const mappings = compileMappings(
    config.mappings ?? DEFAULT_MAPPINGS,
    options.expressions ?? expressionEngine,
  );
  const job = await state.getJob(config.id);
  const hash = configHash(config);
  const initial =
    options.full === true ||
    job === undefined ||
    job.watermark === null ||
    job.watermarkHash !== hash;
  const guard = await CycleGuard.open(state, config.id, {
    ...(config.failures !== undefined ? { policy: config.failures } : {}),
    ...(config.deletionThreshold !== undefined
      ? { deletionThreshold: config.deletionThreshold }
      : {}),
    now: (options.now ?? (() => new Date()))(),
  });
  const snapshot = await sourceFor(config).read(
    initial || guard.retryDue ? null : (job?.watermark ?? null),
  );
  const scope = buildScope(
    config.scope ?? {},
    snapshot,
    options.scopeFilters ?? scopeFilterEvaluator,
  );
  const links = new Map<string, Link>();
  if (job !== undefined)
    for (const link of await state.loadLinks(config.id))
      links.set(linkKey(link.objectType, link.sourceId), link);
  const plan = guard.filter(planCycle({ snapshot, links, mappings, scope, logSkips: false }));
  const { deferred, staged } = guard.held;
  const dialect = config.target.dialect ?? 'entra';
  const limit = Math.max(1, Math.min(options.limit ?? 200, 5_000));
  const describe = new Describer(dialect, links, config.target.membersPerPatch ?? 100);
  const all: (() => PreviewObject)[] = [
    ...plan.skips
      .filter((s) => s.error !== undefined)
      .map((s) => () => ({
        objectType: s.objectType,
        sourceId: s.sourceId,
        action: 'skip' as const,
        targetId: null,
        modified: [],
        steps: s.steps,
        requests: [],
      })),
    ...plan.upserts.map((op) => () => describe.upsert(op)),
    ...plan.managers.map((op) => () => describe.manager(op)),
    ...plan.memberships.map((op) => () => describe.membership(op)),
    ...plan.removals.map((op) => () => describe.removal(op)),
    ...staged.map((op) => () => ({
      ...describe.removal(op),
      action: 'stagedDelete' as const,
      requests: [],
    })),
  ];
  const count = (
    type: ObjectType,
    kind: string,
    ops: readonly { objectType: ObjectType; kind: string }[],
  ) => ops.filter((o) => o.objectType === type && o.kind === kind).length;
  const counts: Preview['counts'] = {
    users: {
      create: count('user', 'create', plan.upserts),
      update: count('user', 'update', plan.upserts),
      disable: count('user', 'disable', plan.removals),
      delete: count('user', 'delete', plan.removals),
    },
    groups: {
      create: count('group', 'create', plan.upserts),
      update: count('group', 'update', plan.upserts),
      delete: count('group', 'delete', plan.removals),
    },
    managers: plan.managers.length,
    memberships: {
      added: plan.memberships.reduce((n, m) => n + m.add.length, 0),
      removed: plan.memberships.reduce((n, m) => n + m.remove.length, 0),
    },
    failures: plan.skips.filter((s) => s.error !== undefined).length,
    deferred,
    stagedDeletes: staged.length,
  };
  return {
    jobId: config.id,
    kind: initial ? 'initial' : 'incremental',
    inScope: plan.inScope,
    counts,
    headline: headline(counts),
    objects: all.slice(0, limit).map((f) => f()),
    truncated: all.length > limit,
  };
}

function headline(c: Preview['counts']): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts = [
    `creates ${n(c.users.create + c.groups.create)}`,
    `updates ${n(c.users.update + c.groups.update)}`,
    `disables ${n(c.users.disable)}`,
    `deletes ${n(c.users.delete + c.groups.delete)}`,
  ];
  if (c.memberships.added + c.memberships.removed > 0)
    parts.push(`adds ${n(c.memberships.added)} and removes ${n(c.memberships.removed)} members`);
  if (c.stagedDeletes > 0) parts.push(`stages ${n(c.stagedDeletes)} deletes (over the threshold)`);
  if (c.deferred > 0) parts.push(`leaves ${n(c.deferred)} in escrow`);
  if (c.failures > 0) parts.push(`fails to map ${n(c.failures)}`);
  return parts.join(', ');
}

class Describer {
  constructor(
    private readonly dialect: Dialect,
    private readonly links: ReadonlyMap<string, Link>,
    private readonly membersPerPatch: number,
  ) {}

  private targetOf(type: ObjectType, sourceId: string): string {
    return (
      this.links.get(linkKey(type, sourceId))?.targetId ?? `{target id of ${type} ${sourceId}}`
    );
  }

  upsert(op: UpsertOperation): PreviewObject {
    const resource = op.objectType === 'user' ? 'Users' : 'Groups';
    if (op.kind === 'update')
      return {
        objectType: op.objectType,
        sourceId: op.sourceId,
        action: 'update',
        targetId: op.targetId,
        modified: op.changes,
        steps: op.steps,
        requests: [
          {
            method: 'PATCH',
            path: `/${resource}/${encodeURIComponent(op.targetId!)}`,
            body: attributesPatch(this.dialect, op.changes),
          },
        ],
      };
    const requests: PlannedRequest[] = op.matchers.map((m, i) => ({
      method: 'GET',
      path: `/${resource}?filter=${encodeURIComponent(equalityFilter(m.path, m.value))}`,
      ...(i > 0 ? { when: 'when the queries before found nothing' } : {}),
    }));
    requests.push({
      method: 'POST',
      path: `/${resource}`,
      body: createBody(op.objectType, op.desired),
      when: 'when no query finds the object (found: a PATCH of what differs)',
    });
    return {
      objectType: op.objectType,
      sourceId: op.sourceId,
      action: 'create',
      targetId: null,
      modified: Object.entries(op.desired)
        .filter(([, v]) => v !== null)
        .map(([name, v]) => ({ name, old: null, new: v })),
      steps: op.steps,
      requests,
    };
  }

  manager(op: ManagerOperation): PreviewObject {
    const target = this.targetOf('user', op.userSourceId);
    return {
      objectType: 'user',
      sourceId: op.userSourceId,
      action: 'reference',
      targetId: this.links.get(linkKey('user', op.userSourceId))?.targetId ?? null,
      modified: [{ name: 'manager', old: op.old, new: op.managerSourceId }],
      steps: [],
      requests: [
        {
          method: 'PATCH',
          path: `/Users/${encodeURIComponent(target)}`,
          body: managerPatch(
            this.dialect,
            op.managerSourceId === null ? null : this.targetOf('user', op.managerSourceId),
          ),
        },
      ],
    };
  }

  membership(op: MembershipOperation): PreviewObject {
    const target = this.targetOf('group', op.groupSourceId);
    const changes = [
      ...op.add.map((id) => ({ add: true, id: this.targetOf('user', id) })),
      ...op.remove.map((id) => ({ add: false, id: this.targetOf('user', id) })),
    ];
    const requests: PlannedRequest[] = [];
    for (let i = 0; i < changes.length; i += this.membersPerPatch) {
      const slice = changes.slice(i, i + this.membersPerPatch);
      requests.push({
        method: 'PATCH',
        path: `/Groups/${encodeURIComponent(target)}`,
        body: membersPatch(
          this.dialect,
          slice.filter((c) => c.add).map((c) => c.id),
          slice.filter((c) => !c.add).map((c) => c.id),
        ),
      });
    }
    return {
      objectType: 'group',
      sourceId: op.groupSourceId,
      action: 'reference',
      targetId: this.links.get(linkKey('group', op.groupSourceId))?.targetId ?? null,
      modified: [{ name: 'members', old: op.remove, new: op.add }],
      steps: [],
      requests,
    };
  }

  removal(op: RemovalOperation): PreviewObject {
    const resource = op.objectType === 'user' ? 'Users' : 'Groups';
    const path = `/${resource}/${encodeURIComponent(op.targetId)}`;
    return {
      objectType: op.objectType,
      sourceId: op.sourceId,
      action: op.kind,
      targetId: op.targetId,
      modified: op.kind === 'disable' ? [{ name: 'active', old: true, new: false }] : [],
      steps: op.steps,
      requests: [
        op.kind === 'delete'
          ? { method: 'DELETE', path }
          : { method: 'PATCH', path, body: disablePatch(this.dialect) },
      ],
    };
  }
}

export interface OnDemandStep {
  readonly step: 'testConnection' | 'import' | 'scope' | 'match' | 'action';
  readonly status: 'success' | 'failure' | 'skipped';
  readonly detail: string;
  readonly data?: unknown;
}

export interface OnDemandResult {
  readonly jobId: string;
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly steps: readonly OnDemandStep[];
  readonly durationMs: number;
}

export interface OnDemandOptions {
  readonly state: SyncStateStore;
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly expressions?: ExpressionEngine;
  readonly scopeFilters?: ScopeFilterEvaluator;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Members a group provisioned on demand may have (Entra's limit). */
export const ON_DEMAND_MAX_MEMBERS = 5;
const LEASE_MS = 60_000;

/**
 * Entra's provision on demand: 1. test connection, 2. import the object from the source,
 * 3. scope (every clause with its verdict), 4. match (every candidate per matching
 * attribute), 5. the action with its modified attributes. A group brings its members
 * (at most 5). Runs under the job's lease; the object's link and log are written.
 */
export async function provisionOnDemand(
  config: JobConfig,
  options: OnDemandOptions,
): Promise<OnDemandResult> {
  const started = performance.now();
  const { state, objectType, sourceId } = options;
  const steps: OnDemandStep[] = [];
  const done = (): OnDemandResult => ({
    jobId: config.id,
    objectType,
    sourceId,
    steps,
    durationMs: Math.round(performance.now() - started),
  });
  const token =
    config.target.token ??
    (config.target.tokenEnv ? process.env[config.target.tokenEnv] : undefined);
  if (!token)
    throw new JobConfigError(`job ${config.id}: no target token (target.token or target.tokenEnv)`);
  const targetConfig: TargetConfig = {
    url: config.target.url,
    token,
    maxConcurrency: Math.max(1, config.target.concurrency ?? 16),
    timeoutMs: config.target.timeoutMs ?? 15_000,
  };

  // 1. Test connection.
  const check: ConnectionCheck = await testConnection(targetConfig);
  steps.push({
    step: 'testConnection',
    status: check.ok ? 'success' : 'failure',
    detail: check.message,
    data: check,
  });
  if (!check.ok) return done();

  // 2. Import.
  const full = await sourceFor(config).read(null);
  const object = objectType === 'user' ? full.users.get(sourceId) : full.groups.get(sourceId);
  if (object === undefined) {
    steps.push({
      step: 'import',
      status: 'failure',
      detail: `no ${objectType} with id ${sourceId} in the source`,
    });
    return done();
  }
  const users = new Map<string, SourceObject>();
  const groups = new Map<string, SourceGroup>();
  if (objectType === 'user') users.set(object.id, object);
  else {
    const group = object as SourceGroup;
    if (group.members.length > ON_DEMAND_MAX_MEMBERS) {
      steps.push({
        step: 'import',
        status: 'failure',
        detail: `group ${sourceId} has ${group.members.length} members; on demand takes a group with at most ${ON_DEMAND_MAX_MEMBERS}`,
      });
      return done();
    }
    groups.set(group.id, group);
    for (const id of group.members) {
      const member = full.users.get(id);
      if (member !== undefined) users.set(id, member);
    }
  }
  steps.push({
    step: 'import',
    status: 'success',
    detail: `${objectType} ${sourceId} read from the source${objectType === 'group' ? ` with ${users.size} members` : ''}`,
    data: { attributes: object.attributes },
  });

  // 3. Scope: the assignment, then each clause of each scoping filter with its verdict.
  const scope = buildScope(config.scope ?? {}, full, options.scopeFilters ?? scopeFilterEvaluator);
  const verdict = objectType === 'user' ? scope.user(object) : scope.group(object as SourceGroup);
  const filters = validateScopingFilters(
    (objectType === 'user' ? config.scope?.userFilters : config.scope?.groupFilters) ?? [],
  );
  const trace = evaluateScope(filters, { ...object.attributes, objectId: object.id }).trace;
  steps.push({
    step: 'scope',
    status: verdict.inScope ? 'success' : 'skipped',
    detail: verdict.inScope ? `in scope: ${verdict.detail}` : `out of scope: ${verdict.detail}`,
    data: { clauses: trace },
  });

  // 4. Match: every candidate per matching attribute, and the link if there is one.
  const mappings = compileMappings(
    config.mappings ?? DEFAULT_MAPPINGS,
    options.expressions ?? expressionEngine,
  );
  const client = new ScimTargetClient(targetConfig, options.sleep);
  const links = new Map<string, Link>();
  for (const link of await state.loadLinks(config.id))
    links.set(linkKey(link.objectType, link.sourceId), link);
  const link = links.get(linkKey(objectType, sourceId));
  const resource = objectType === 'user' ? 'Users' : 'Groups';
  const candidates: {
    attribute: string;
    value: string;
    found: { id: unknown; display: unknown }[];
  }[] = [];
  for (const mapping of mappings[objectType].matching) {
    let value: unknown;
    try {
      value = mapping.compute(object);
    } catch {
      value = undefined;
    }
    if (typeof value !== 'string' || value === '') continue;
    const response = await client.request(
      'GET',
      `/${resource}?filter=${encodeURIComponent(equalityFilter(mapping.target.text, value))}${objectType === 'group' ? '&excludedAttributes=members' : ''}`,
    );
    const list = (response.body as { Resources?: Record<string, unknown>[] } | undefined)
      ?.Resources;
    candidates.push({
      attribute: mapping.target.text,
      value,
      found: (Array.isArray(list) ? list : []).map((r) => ({
        id: r['id'],
        display: r['userName'] ?? r['displayName'],
      })),
    });
  }
  const total = candidates.reduce((n, c) => n + c.found.length, 0);
  steps.push({
    step: 'match',
    status: 'success',
    detail: link
      ? `linked to target ${link.targetId}; ${total} candidates found by the matching attributes`
      : total === 0
        ? 'no target object matches: it would be created'
        : `${total} candidates found by the matching attributes`,
    data: { linkedTargetId: link?.targetId ?? null, candidates },
  });

  // 5. Action: the object's own operations, run now.
  const owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  // The job's row must exist for its lease and links; an existing job keeps its config.
  if ((await state.getJob(config.id)) === undefined)
    await state.saveJob(config.id, { id: config.id }, configHash(config));
  if (!(await state.acquireLease(config.id, owner, LEASE_MS)))
    throw new JobBusyError(`job ${config.id} is running a cycle; try again when it ends`);
  try {
    const snapshot: SourceSnapshot = { users, groups, complete: false, watermark: '' };
    const plan: Plan = planCycle({
      snapshot,
      links,
      mappings,
      scope: buildScope(config.scope ?? {}, full, options.scopeFilters ?? scopeFilterEvaluator),
    });
    const cycleId = `on-demand-${randomUUID()}`;
    const journal = new CycleJournal(state, config.id, links);
    const result = await executePlan(plan, {
      client,
      dialect: config.target.dialect ?? 'entra',
      journal,
      jobId: config.id,
      cycleId,
      inventoryThreshold: Number.MAX_SAFE_INTEGER,
    });
    await journal.flush();
    const entries = (await state.listLog(config.id, { cycleId, limit: 1000 })).reverse();
    const mine = entries.filter((e) => e.objectType === objectType && e.sourceId === sourceId);
    const failed = result.failures > 0;
    if (!failed)
      await state.deleteEscrows(config.id, [
        ...[...users.keys()].map((id) => ({ objectType: 'user' as ObjectType, sourceId: id })),
        ...(objectType === 'group' ? [{ objectType: 'group' as ObjectType, sourceId }] : []),
      ]);
    const actions = mine.map((e) => `${e.action} ${e.status}${e.error ? ` (${e.error})` : ''}`);
    steps.push({
      step: 'action',
      status: failed ? 'failure' : mine.length === 0 ? 'skipped' : 'success',
      detail:
        mine.length === 0
          ? 'nothing to do: the target already holds every mapped value'
          : actions.join('; '),
      data: {
        cycleId,
        entries: entries.map((e) => ({
          objectType: e.objectType,
          sourceId: e.sourceId,
          targetId: e.targetId,
          action: e.action,
          status: e.status,
          modified: e.modified,
          steps: e.steps,
          targetStatus: e.targetStatus,
          error: e.error,
        })),
        requests: client.stats.requests,
      },
    });
    return done();
  } finally {
    await state.releaseLease(config.id, owner).catch(() => undefined);
  }
}

/** JSON with object keys sorted, so two equal values give the same text (change ids). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}
