import { AsyncLocalStorage } from 'node:async_hooks';
import { parseTargetPath, readPath } from './mapping/target-paths.js';
import { REDACTED, SUCCESS_BODY_LIMIT, shortened, type TargetExchange } from './target/exchange.js';
import { loadInventory, type Inventory } from './target/inventory.js';
import type { CycleJournal } from './journal.js';
import {
  MANAGER_KEY,
  MEMBERS_KEY,
  sameValue,
  type ManagerOperation,
  type MembershipOperation,
  type Plan,
  type RemovalOperation,
  type UpsertOperation,
} from './planner.js';
import type { ObjectFailure } from './failure.js';
import type {
  ExportedValue,
  QuarantineCode,
  LogAction,
  LogStatus,
  LogStep,
  ModifiedProperty,
  ObjectType,
} from './state.js';
import {
  describeFailure,
  TargetError,
  type ScimTargetClient,
  type TargetResponse,
} from './target/client.js';
import {
  attributesPatch,
  createBody,
  disablePatch,
  withManager,
  equalityFilter,
  managerPatch,
  membersPatch,
  type Dialect,
} from './target/dialect.js';

export interface ExecuteOptions {
  readonly client: ScimTargetClient;
  readonly dialect: Dialect;
  readonly journal: CycleJournal;
  readonly jobId: string;
  readonly cycleId: string;
  /** Requests in flight (default 16). */
  readonly concurrency?: number;
  /** Member adds + removes per PATCH request (default 100). */
  readonly membersPerPatch?: number;
  readonly onProgress?: (done: number, total: number) => void;
  /** Creates of one type from which the target's objects are listed once to match in memory (default 50). */
  readonly inventoryThreshold?: number;
  /** Each failure, before it is logged; may add an escrow step and the next retry (failure.ts). */
  readonly onFailure?: (
    failure: ObjectFailure,
  ) => { step: LogStep; nextRetryAt: string | null } | undefined;
  /** A job-level fault (invalid credentials, a 404 to a query): the cycle takes no more work. */
  readonly onFatal?: (code: QuarantineCode, detail: string) => void;
  /** Asked before each operation starts: true stops the cycle (an admin's Stop). */
  readonly shouldStop?: () => boolean;
}

export type ActionCounts = Partial<Record<LogAction | 'matched', number>>;

export interface ExecutionResult {
  readonly users: ActionCounts;
  readonly groups: ActionCounts;
  readonly managers: { set: number; cleared: number };
  readonly memberships: { added: number; removed: number };
  readonly failures: number;
  readonly failed: { objectType: ObjectType; sourceId: string; action: string; error: string }[];
}

const MAX_FAILED_LISTED = 50;

/**
 * Runs a plan against the target in Entra's order (objects, then managers, then
 * memberships, then disables and deletes), each phase through a pool of concurrent
 * requests. A failure is logged and leaves that object's link as it was, so the next
 * cycle tries again; it never stops the cycle.
 */
export async function executePlan(plan: Plan, options: ExecuteOptions): Promise<ExecutionResult> {
  const run = new Execution(options);
  const total =
    plan.upserts.length + plan.managers.length + plan.memberships.length + plan.removals.length;
  run.total = total;
  for (const skip of plan.skips) {
    const status = skip.error === undefined ? 'skipped' : 'failure';
    run.log(
      skip.objectType,
      skip.sourceId,
      null,
      'skip',
      status,
      skip.steps,
      [],
      null,
      skip.error ?? null,
      0,
    );
  }
  const concurrency = Math.max(1, options.concurrency ?? 16);
  for (const objectType of ['user', 'group'] as const) {
    const creates = plan.upserts.filter((o) => o.kind === 'create' && o.objectType === objectType);
    if (creates.length < (options.inventoryThreshold ?? 50)) continue;
    const paths = [...new Set(creates.flatMap((o) => o.matchers.map((m) => m.path)))];
    const inventory = await loadInventory(
      options.client,
      objectType === 'user' ? 'Users' : 'Groups',
      paths,
    );
    if (inventory !== null) run.inventories[objectType] = inventory;
  }
  for (const m of plan.managers)
    if (m.managerSourceId !== null && m.old === null)
      run.managerOnCreate.set(m.userSourceId, m.managerSourceId);
  for (const m of plan.memberships)
    if (m.add.length > 0) run.membersOnCreate.set(m.groupSourceId, m.add);
  const stop = () => run.stopped || options.shouldStop?.() === true;
  await pool(plan.upserts, concurrency, (op) => run.upsert(op), stop);
  await options.journal.flush();
  await pool(plan.managers, concurrency, (op) => run.manager(op), stop);
  await pool(plan.memberships, concurrency, (op) => run.membership(op), stop);
  await options.journal.flush();
  await pool(plan.removals, concurrency, (op) => run.removal(op), stop);
  await options.journal.flush();
  return run.result();
}

/**
 * The last exchange with the target of the operation running in this async context: each
 * operation runs in its own, so concurrent operations log their own request and response.
 */
const lastExchange = new AsyncLocalStorage<{
  from?: { readonly exchange?: TargetExchange | undefined };
}>();

async function pool<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !stop()) {
      const item = items[next++]!;
      await lastExchange.run({}, () => work(item));
    }
  });
  await Promise.all(workers);
}

class Execution {
  total = 0;
  /** Set by a job-level fault (401, a 404 to a query): no further operation starts. */
  stopped = false;
  /** The target's objects per type, read once when a cycle creates many (inventory.ts). */
  inventories: Partial<Record<ObjectType, Inventory>> = {};
  /** User source id → manager source id, for users this cycle may create with their manager. */
  readonly managerOnCreate = new Map<string, string>();
  /** Group source id → member source ids to add, sent in the group's create body if it is created. */
  readonly membersOnCreate = new Map<string, readonly string[]>();
  /** Users whose manager went in the create body: their manager operation has nothing to do. */
  private readonly managerSent = new Set<string>();
  /** User creates in flight, so a report created after its manager can wait for the manager's id. */
  private readonly creating = new Map<string, Promise<void>>();
  /** The order user creates started in: a create waits only on one started before it (no cycle). */
  private readonly createOrder = new Map<string, number>();
  private done = 0;
  private readonly counts: Record<ObjectType, ActionCounts> = { user: {}, group: {} };
  private readonly managers = { set: 0, cleared: 0 };
  private readonly memberships = { added: 0, removed: 0 };
  private failures = 0;
  private readonly failed: ExecutionResult['failed'] = [];

  constructor(private readonly options: ExecuteOptions) {}

  result(): ExecutionResult {
    return {
      users: this.counts.user,
      groups: this.counts.group,
      managers: this.managers,
      memberships: this.memberships,
      failures: this.failures,
      failed: this.failed,
    };
  }

  private tick(): void {
    this.done++;
    this.options.onProgress?.(this.done, this.total);
  }

  log(
    objectType: ObjectType,
    sourceId: string,
    targetId: string | null,
    action: LogAction,
    status: LogStatus,
    steps: readonly LogStep[],
    modified: readonly ModifiedProperty[],
    targetStatus: number | null,
    error: string | null,
    durationMs: number,
    /** References (manager, members) are counted apart, not as object updates. */
    counted = true,
  ): void {
    let nextRetryAt: string | null | undefined;
    if (status === 'failure') {
      const escrow = this.options.onFailure?.({
        objectType,
        sourceId,
        action,
        status: targetStatus,
        error: error ?? 'failed',
        reference: !counted,
      });
      if (escrow !== undefined) {
        steps = [...steps, escrow.step];
        nextRetryAt = escrow.nextRetryAt;
      }
      this.failures++;
      if (this.failed.length < MAX_FAILED_LISTED)
        this.failed.push({ objectType, sourceId, action, error: error ?? 'failed' });
    } else if (counted) {
      const counts = this.counts[objectType];
      counts[action] = (counts[action] ?? 0) + 1;
    }
    // A target may echo the token in its error detail: it never reaches the log.
    const token = this.options.client.config.token;
    if (token.length >= 4 && status === 'failure') {
      const hide = (text: string) => text.split(token).join(REDACTED);
      if (error !== null) error = hide(error);
      steps = steps.map((s) => (s.detail.includes(token) ? { ...s, detail: hide(s.detail) } : s));
    }
    // The raw request and answer behind this entry (redacted); a success keeps less body.
    const sent = lastExchange.getStore()?.from?.exchange;
    const exchange =
      sent === undefined
        ? undefined
        : status === 'failure'
          ? sent
          : shortened(sent, SUCCESS_BODY_LIMIT);
    this.options.journal.record({
      jobId: this.options.jobId,
      cycleId: this.options.cycleId,
      at: new Date().toISOString(),
      objectType,
      sourceId,
      targetId,
      action,
      status,
      steps,
      modified,
      targetStatus,
      error,
      durationMs,
      ...(nextRetryAt !== undefined ? { nextRetryAt } : {}),
      ...(exchange !== undefined ? { exchange } : {}),
    });
  }

  private fatal(code: QuarantineCode, detail: string): void {
    this.stopped = true;
    this.options.onFatal?.(code, detail);
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<TargetResponse | { error: string }> {
    const context = lastExchange.getStore();
    try {
      const response = await this.options.client.request(method, path, body);
      if (context !== undefined) context.from = response; // its exchange is built if logged
      if (response.status === 401)
        this.fatal(
          'invalid_credentials',
          `${method} ${path.split('?')[0]} answered ${describeFailure(response)}`,
        );
      return response;
    } catch (error) {
      if (context !== undefined && error instanceof TargetError) context.from = error;
      return { error: error instanceof TargetError ? error.message : String(error) };
    }
  }

  async upsert(op: UpsertOperation): Promise<void> {
    const started = performance.now();
    const resource = op.objectType === 'user' ? 'Users' : 'Groups';
    const steps: LogStep[] = [...op.steps];
    const fail = (
      action: LogAction,
      error: string,
      status: number | null,
      targetId: string | null,
    ) => {
      steps.push({ step: 'action', detail: error });
      this.log(
        op.objectType,
        op.sourceId,
        targetId,
        action,
        'failure',
        steps,
        op.changes,
        status,
        error,
        performance.now() - started,
      );
    };
    try {
      if (op.kind === 'update') {
        const response = await this.call(
          'PATCH',
          `/${resource}/${encodeURIComponent(op.targetId!)}`,
          attributesPatch(this.options.dialect, op.changes),
        );
        if ('error' in response) return fail('update', response.error, null, op.targetId);
        if (response.status === 404) {
          // The target object is gone (deleted there): forget the link, match or create again.
          steps.push({
            step: 'match',
            detail: `target ${op.targetId} answered 404; matching again`,
          });
          this.options.journal.removeLink(op.objectType, op.sourceId);
          return await this.createOrMatch(
            { ...op, kind: 'create', targetId: null, changes: [] },
            steps,
            started,
          );
        }
        if (response.status >= 300)
          return fail('update', describeFailure(response), response.status, op.targetId);
        const link = this.options.journal.get(op.objectType, op.sourceId);
        this.options.journal.setLink({
          objectType: op.objectType,
          sourceId: op.sourceId,
          targetId: op.targetId!,
          exported: { ...(link?.exported ?? {}), ...op.desired },
          enabled: op.objectType === 'group' || op.desired.active !== false,
        });
        const disabling = op.changes.some((c) => c.name === 'active' && c.new === false);
        steps.push({ step: 'action', detail: `PATCH ${response.status}` });
        this.log(
          op.objectType,
          op.sourceId,
          op.targetId,
          disabling ? 'disable' : 'update',
          'success',
          steps,
          op.changes,
          response.status,
          null,
          performance.now() - started,
        );
        return;
      }
      if (op.objectType !== 'user') return await this.createOrMatch(op, steps, started);
      this.createOrder.set(op.sourceId, this.createOrder.size);
      const work = this.createOrMatch(op, steps, started);
      this.creating.set(op.sourceId, work);
      await work;
      this.creating.delete(op.sourceId);
    } finally {
      this.tick();
    }
  }

  private async createOrMatch(
    op: UpsertOperation,
    steps: LogStep[],
    started: number,
    retried = false,
  ): Promise<void> {
    const resource = op.objectType === 'user' ? 'Users' : 'Groups';
    const fail = (error: string, status: number | null, targetId: string | null = null) => {
      steps.push({ step: 'action', detail: error });
      this.log(
        op.objectType,
        op.sourceId,
        targetId,
        'create',
        'failure',
        steps,
        [],
        status,
        error,
        performance.now() - started,
      );
    };
    // Match: each matching attribute in precedence order; the first that finds one wins.
    const inventory = retried ? undefined : this.inventories[op.objectType];
    for (const matcher of op.matchers) {
      let found: Record<string, unknown>[];
      let status = 200;
      if (inventory !== undefined) {
        found = inventory.find(matcher.path, matcher.value);
      } else {
        const query = `filter=${encodeURIComponent(equalityFilter(matcher.path, matcher.value))}${op.objectType === 'group' ? '&excludedAttributes=members' : ''}`;
        const response = await this.call('GET', `/${resource}?${query}`);
        if ('error' in response) return fail(`matching query failed: ${response.error}`, null);
        if (response.status === 404)
          this.fatal(
            'scim_compliance',
            `GET /${resource}?filter=… answered 404; a SCIM query answers a ListResponse, empty when nothing matches (RFC 7644 §3.4.2)`,
          );
        if (response.status !== 200)
          return fail(`matching query failed: ${describeFailure(response)}`, response.status);
        const list = listResources(response.body);
        if (list === null)
          return fail('matching query answered 200 without a SCIM ListResponse', response.status);
        found = list;
        status = response.status;
      }
      if (found.length > 1) {
        return fail(
          `ambiguous match: ${found.length} target objects have ${matcher.path} "${matcher.value}"`,
          status,
        );
      }
      const match = found[0];
      if (match === undefined) {
        steps.push({
          step: 'match',
          detail: `no target object with ${matcher.path} "${matcher.value}"`,
        });
        continue;
      }
      const targetId = typeof match.id === 'string' ? match.id : null;
      if (targetId === null) return fail('matched a target object without an id', status);
      steps.push({ step: 'match', detail: `matched target ${targetId} on ${matcher.path}` });
      return this.updateMatched(op, targetId, match, steps, started);
    }
    // The manager goes in the create body when its target id is known (its create, started
    // earlier in this cycle, is awaited); otherwise the manager phase PATCHes it after.
    const managerSourceId = retried ? undefined : this.managerOnCreate.get(op.sourceId);
    let managerTarget: string | undefined;
    if (op.objectType === 'user' && managerSourceId !== undefined) {
      const theirs = this.createOrder.get(managerSourceId);
      if (theirs !== undefined && theirs < (this.createOrder.get(op.sourceId) ?? -1))
        await this.creating.get(managerSourceId);
      managerTarget = this.options.journal.get('user', managerSourceId)?.targetId;
    }
    // A created group carries its first members (provisioned, or being created: user creates
    // all start before group creates; at most one PATCH's worth); the membership phase
    // sends the rest as deltas.
    const members: [string, string][] = [];
    const memberIds = retried ? undefined : this.membersOnCreate.get(op.sourceId);
    const batch = Math.max(1, this.options.membersPerPatch ?? 100);
    for (const id of op.objectType === 'group' ? (memberIds ?? []) : []) {
      if (members.length >= batch) break;
      await this.creating.get(id); // users are created before groups: this one's in flight
      const user = this.options.journal.get('user', id);
      if (user !== undefined) members.push([id, user.targetId]);
    }
    const body0 = createBody(op.objectType, op.desired);
    const response = await this.call(
      'POST',
      `/${resource}`,
      managerTarget !== undefined
        ? withManager(body0, managerTarget)
        : members.length > 0
          ? { ...body0, members: members.map(([, value]) => ({ value })) }
          : body0,
    );
    if ('error' in response) return fail(response.error, null);
    if (response.status === 409 && !retried) {
      // Created meanwhile (another process, or a case-insensitive twin): match once more.
      steps.push({ step: 'match', detail: 'create answered 409; matching again' });
      return this.createOrMatch(op, steps, started, true);
    }
    const body = response.body as { id?: unknown } | undefined;
    if (response.status !== 201 && response.status !== 200)
      return fail(describeFailure(response), response.status);
    if (typeof body?.id !== 'string') return fail('create answered without an id', response.status);
    this.options.journal.setLink({
      objectType: op.objectType,
      sourceId: op.sourceId,
      targetId: body.id,
      exported:
        managerTarget !== undefined
          ? { ...op.desired, [MANAGER_KEY]: managerSourceId! }
          : members.length > 0
            ? { ...op.desired, [MEMBERS_KEY]: members.map(([id]) => id).sort() }
            : op.desired,
      enabled: op.objectType === 'group' || op.desired.active !== false,
    });
    steps.push({ step: 'action', detail: `POST ${response.status}` });
    const modified: ModifiedProperty[] = Object.entries(op.desired)
      .filter(([, v]) => v !== null)
      .map(([name, v]) => ({ name, old: null, new: v }));
    if (managerTarget !== undefined) {
      this.managerSent.add(op.sourceId);
      this.managers.set++;
      modified.push({ name: 'manager', old: null, new: managerSourceId! });
      steps.push({ step: 'reference', detail: `manager set to ${managerTarget} in the create` });
    }
    if (members.length > 0) {
      this.memberships.added += members.length;
      modified.push({ name: 'members', old: [], new: members.map(([id]) => id) });
      steps.push({ step: 'reference', detail: `members: ${members.length} added in the create` });
    }
    this.log(
      op.objectType,
      op.sourceId,
      body.id,
      'create',
      'success',
      steps,
      modified,
      response.status,
      null,
      performance.now() - started,
    );
  }

  /** A matched object: send only what differs from what the target holds. */
  private async updateMatched(
    op: UpsertOperation,
    targetId: string,
    match: Record<string, unknown>,
    steps: LogStep[],
    started: number,
  ): Promise<void> {
    const resource = op.objectType === 'user' ? 'Users' : 'Groups';
    const changes: ModifiedProperty[] = [];
    for (const path of op.alwaysPaths) {
      const wanted = op.desired[path] ?? null;
      const current = readPath(match, parseTargetPath(path));
      if (!looselyEqual(current, wanted))
        changes.push({ name: path, old: toExported(current), new: wanted });
    }
    let status: number | null = 200;
    if (changes.length > 0) {
      const response = await this.call(
        'PATCH',
        `/${resource}/${encodeURIComponent(targetId)}`,
        attributesPatch(this.options.dialect, changes),
      );
      if ('error' in response || response.status >= 300) {
        const error = 'error' in response ? response.error : describeFailure(response);
        steps.push({ step: 'action', detail: error });
        this.log(
          op.objectType,
          op.sourceId,
          targetId,
          'update',
          'failure',
          steps,
          changes,
          'error' in response ? null : response.status,
          error,
          performance.now() - started,
        );
        return;
      }
      status = response.status;
      steps.push({ step: 'action', detail: `PATCH ${response.status}` });
    } else {
      steps.push({ step: 'action', detail: 'the target object already holds every mapped value' });
    }
    this.options.journal.setLink({
      objectType: op.objectType,
      sourceId: op.sourceId,
      targetId,
      exported: op.desired,
      enabled: op.objectType === 'group' || op.desired.active !== false,
    });
    const counts = this.counts[op.objectType];
    counts.matched = (counts.matched ?? 0) + 1;
    this.log(
      op.objectType,
      op.sourceId,
      targetId,
      'update',
      'success',
      steps,
      changes,
      status,
      null,
      performance.now() - started,
    );
  }

  async manager(op: ManagerOperation): Promise<void> {
    const started = performance.now();
    try {
      if (this.managerSent.has(op.userSourceId)) return; // sent with the user's create
      const link = this.options.journal.get('user', op.userSourceId);
      const steps: LogStep[] = [];
      const modified = [{ name: 'manager', old: op.old, new: op.managerSourceId }];
      if (link === undefined) return; // the user's own create failed (logged there)
      let managerTarget: string | null = null;
      if (op.managerSourceId !== null) {
        const managerLink = this.options.journal.get('user', op.managerSourceId);
        if (managerLink === undefined) {
          steps.push({
            step: 'reference',
            detail: `manager ${op.managerSourceId} is not provisioned; left for the next cycle`,
          });
          this.log(
            'user',
            op.userSourceId,
            link.targetId,
            'update',
            'failure',
            steps,
            modified,
            null,
            'manager not provisioned',
            0,
            false,
          );
          return;
        }
        managerTarget = managerLink.targetId;
      }
      const response = await this.call(
        'PATCH',
        `/Users/${encodeURIComponent(link.targetId)}`,
        managerPatch(this.options.dialect, managerTarget),
      );
      if ('error' in response || response.status >= 300) {
        const error = 'error' in response ? response.error : describeFailure(response);
        steps.push({ step: 'reference', detail: error });
        this.log(
          'user',
          op.userSourceId,
          link.targetId,
          'update',
          'failure',
          steps,
          modified,
          'error' in response ? null : response.status,
          error,
          performance.now() - started,
          false,
        );
        return;
      }
      const current = this.options.journal.get('user', op.userSourceId) ?? link;
      this.options.journal.setLink({
        ...current,
        exported: { ...current.exported, [MANAGER_KEY]: op.managerSourceId },
      });
      if (op.managerSourceId === null) this.managers.cleared++;
      else this.managers.set++;
      steps.push({
        step: 'reference',
        detail: op.managerSourceId === null ? 'manager cleared' : `manager set to ${managerTarget}`,
      });
      this.log(
        'user',
        op.userSourceId,
        link.targetId,
        'update',
        'success',
        steps,
        modified,
        response.status,
        null,
        performance.now() - started,
        false,
      );
    } finally {
      this.tick();
    }
  }

  async membership(op: MembershipOperation): Promise<void> {
    const started = performance.now();
    try {
      const link = this.options.journal.get('group', op.groupSourceId);
      if (link === undefined) return; // the group's create failed (logged there)
      const batch = Math.max(1, this.options.membersPerPatch ?? 100);
      const exported = new Set(
        Array.isArray(link.exported[MEMBERS_KEY]) ? (link.exported[MEMBERS_KEY] as string[]) : [],
      );
      const unresolved: string[] = [];
      const adds: [string, string][] = [];
      let sentWithCreate = 0;
      for (const id of op.add) {
        if (exported.has(id)) {
          sentWithCreate++; // in the group's create body
          continue;
        }
        const user = this.options.journal.get('user', id);
        if (user === undefined) unresolved.push(id);
        else adds.push([id, user.targetId]);
      }
      const removes: [string, string][] = [];
      for (const id of op.remove) {
        const user = this.options.journal.get('user', id);
        if (user === undefined)
          exported.delete(id); // deleted in the target with its memberships
        else removes.push([id, user.targetId]);
      }
      const changes = [
        ...adds.map((a) => ({ add: true, ids: a })),
        ...removes.map((r) => ({ add: false, ids: r })),
      ];
      if (sentWithCreate > 0 && changes.length === 0 && unresolved.length === 0) return;
      let failure: string | null = null;
      let lastStatus: number | null = null;
      let added = 0;
      let removed = 0;
      for (let i = 0; i < changes.length && failure === null; i += batch) {
        const slice = changes.slice(i, i + batch);
        const body = membersPatch(
          this.options.dialect,
          slice.filter((c) => c.add).map((c) => c.ids[1]),
          slice.filter((c) => !c.add).map((c) => c.ids[1]),
        );
        const response = await this.call(
          'PATCH',
          `/Groups/${encodeURIComponent(link.targetId)}`,
          body,
        );
        if ('error' in response || response.status >= 300) {
          failure = 'error' in response ? response.error : describeFailure(response);
          lastStatus = 'error' in response ? null : response.status;
          break;
        }
        lastStatus = response.status;
        for (const c of slice) {
          if (c.add) {
            exported.add(c.ids[0]);
            added++;
          } else {
            exported.delete(c.ids[0]);
            removed++;
          }
        }
      }
      const current = this.options.journal.get('group', op.groupSourceId) ?? link;
      this.options.journal.setLink({
        ...current,
        exported: { ...current.exported, [MEMBERS_KEY]: [...exported].sort() },
      });
      this.memberships.added += added;
      this.memberships.removed += removed;
      const steps: LogStep[] = [
        {
          step: 'reference',
          detail: `members: ${added} added, ${removed} removed${unresolved.length ? `, ${unresolved.length} not provisioned (left for the next cycle)` : ''}`,
        },
      ];
      const modified: ModifiedProperty[] = [{ name: 'members', old: op.remove, new: op.add }];
      if (failure !== null) steps.push({ step: 'action', detail: failure });
      this.log(
        'group',
        op.groupSourceId,
        link.targetId,
        'update',
        failure === null ? 'success' : 'failure',
        steps,
        modified,
        lastStatus,
        failure,
        performance.now() - started,
        false,
      );
    } finally {
      this.tick();
    }
  }

  async removal(op: RemovalOperation): Promise<void> {
    const started = performance.now();
    try {
      const resource = op.objectType === 'user' ? 'Users' : 'Groups';
      const path = `/${resource}/${encodeURIComponent(op.targetId)}`;
      const response =
        op.kind === 'delete'
          ? await this.call('DELETE', path)
          : await this.call('PATCH', path, disablePatch(this.options.dialect));
      const steps: LogStep[] = [...op.steps];
      const modified = op.kind === 'disable' ? [{ name: 'active', old: true, new: false }] : [];
      if ('error' in response || (response.status >= 300 && response.status !== 404)) {
        const error = 'error' in response ? response.error : describeFailure(response);
        steps.push({ step: 'action', detail: error });
        this.log(
          op.objectType,
          op.sourceId,
          op.targetId,
          op.kind,
          'failure',
          steps,
          modified,
          'error' in response ? null : response.status,
          error,
          performance.now() - started,
        );
        return;
      }
      if (op.kind === 'delete' || response.status === 404) {
        this.options.journal.removeLink(op.objectType, op.sourceId);
      } else {
        const link = this.options.journal.get(op.objectType, op.sourceId);
        if (link !== undefined)
          this.options.journal.setLink({
            ...link,
            enabled: false,
            exported: { ...link.exported, active: false },
          });
      }
      steps.push({
        step: 'action',
        detail: `${op.kind === 'delete' ? 'DELETE' : 'PATCH'} ${response.status}${response.status === 404 ? ' (already gone)' : ''}`,
      });
      this.log(
        op.objectType,
        op.sourceId,
        op.targetId,
        op.kind,
        'success',
        steps,
        modified,
        response.status,
        null,
        performance.now() - started,
      );
    } finally {
      this.tick();
    }
  }
}

function listResources(body: unknown): Record<string, unknown>[] | null {
  if (typeof body !== 'object' || body === null) return null;
  const resources = (body as { Resources?: unknown }).Resources;
  if (resources === undefined)
    return (body as { totalResults?: unknown }).totalResults === 0 ? [] : null;
  return Array.isArray(resources) ? (resources as Record<string, unknown>[]) : null;
}

/** Targets may answer booleans as strings or change nothing but case; compare like Entra. */
function looselyEqual(current: unknown, wanted: ExportedValue): boolean {
  if (sameValue(current ?? null, wanted)) return true;
  if (current === undefined || current === null || wanted === null) return false;
  return String(current) === String(wanted);
}

function toExported(value: unknown): ExportedValue | undefined {
  if (value === undefined) return undefined;
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    typeof value === 'number'
  )
    return value;
  return JSON.stringify(value);
}
