import type { CompiledMapping, CompiledMappings } from './mapping/compile.js';
import type { Scope } from './scope.js';
import type { SourceGroup, SourceObject, SourceSnapshot } from './sources/source.js';
import type {
  ExportedValue,
  ExportedValues,
  Link,
  LogStep,
  ModifiedProperty,
  ObjectType,
} from './state.js';

/**
 * The pure planner: source snapshot + connector state + mappings + scope → operations.
 * No I/O; maps keyed by id, so planning 100,000 users is a few hundred milliseconds.
 *
 * A cycle runs in Entra's order: objects (match or create users, then groups; updates),
 * then references (enterprise manager), then group memberships as deltas, then disables
 * and deletes. References name *source* ids; the executor resolves them to target ids
 * after the objects exist, so a manager or member that comes into scope in this cycle is
 * resolved in this cycle (Entra needs a restart for that).
 */

export interface Matcher {
  readonly path: string;
  readonly value: string;
}

export interface UpsertOperation {
  readonly kind: 'create' | 'update';
  readonly objectType: ObjectType;
  readonly sourceId: string;
  /** update: the linked target id; create: null (matched or created by the executor). */
  readonly targetId: string | null;
  /** Every mapped non-reference value (create body; merged into the exported values). */
  readonly desired: ExportedValues;
  /** update: the changed values only (what the PATCH sends). create: empty. */
  readonly changes: readonly ModifiedProperty[];
  /** create: matching attributes with values, in precedence order. */
  readonly matchers: readonly Matcher[];
  /** Values mapped "always" (the ones compared against a matched target object). */
  readonly alwaysPaths: readonly string[];
  readonly steps: readonly LogStep[];
}

export interface RemovalOperation {
  readonly kind: 'disable' | 'delete';
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly targetId: string;
  readonly steps: readonly LogStep[];
}

export interface ManagerOperation {
  readonly userSourceId: string;
  /** The manager's source id, or null to clear the manager. */
  readonly managerSourceId: string | null;
  readonly old: string | null;
}

export interface MembershipOperation {
  readonly groupSourceId: string;
  /** Source user ids to add / remove. */
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

export interface SkipEntry {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly steps: readonly LogStep[];
  /** Set when the object could not be planned (an expression failed on it): a failure. */
  readonly error?: string;
}

export interface Plan {
  readonly upserts: readonly UpsertOperation[];
  readonly managers: readonly ManagerOperation[];
  readonly memberships: readonly MembershipOperation[];
  readonly removals: readonly RemovalOperation[];
  /** Objects that could not be planned or are out of scope and unknown to the target. */
  readonly skips: readonly SkipEntry[];
  /** Objects in scope, per type (the cycle's size). */
  readonly inScope: { readonly users: number; readonly groups: number };
}

export interface PlanInput {
  readonly snapshot: SourceSnapshot;
  /** Keyed by linkKey(objectType, sourceId). */
  readonly links: ReadonlyMap<string, Link>;
  readonly mappings: CompiledMappings;
  readonly scope: Scope;
  /** Log a skip for every out-of-scope object the target does not know (full cycles). */
  readonly logSkips?: boolean;
}

export function linkKey(objectType: ObjectType, sourceId: string): string {
  return `${objectType}:${sourceId}`;
}

export const MANAGER_KEY = 'manager';
export const MEMBERS_KEY = 'members';

export function planCycle(input: PlanInput): Plan {
  const { snapshot, links, mappings, scope } = input;
  const upserts: UpsertOperation[] = [];
  const removals: RemovalOperation[] = [];
  const skips: SkipEntry[] = [];
  const managers: ManagerOperation[] = [];
  const memberships: MembershipOperation[] = [];

  // Users in scope after this cycle: in the snapshot and in scope, or (delta snapshots)
  // linked and enabled and not in the delta.
  const usersInScope = new Set<string>();
  for (const user of snapshot.users.values()) {
    const verdict = scope.user(user);
    const link = links.get(linkKey('user', user.id));
    if (verdict.inScope) {
      usersInScope.add(user.id);
      const op = planUpsert('user', user, link, mappings.user, verdict.detail);
      if (op.kind === 'skip') skips.push(op.entry);
      else if (op.operation !== null) upserts.push(op.operation);
    } else if (link !== undefined && link.enabled) {
      removals.push({
        kind: 'disable',
        objectType: 'user',
        sourceId: user.id,
        targetId: link.targetId,
        steps: [{ step: 'scope', detail: `out of scope: ${verdict.detail}` }],
      });
    } else if (link === undefined && input.logSkips) {
      skips.push({
        objectType: 'user',
        sourceId: user.id,
        steps: [{ step: 'scope', detail: `out of scope: ${verdict.detail}` }],
      });
    }
  }
  const groupsInScope = new Set<string>();
  const groupOps: UpsertOperation[] = [];
  for (const group of snapshot.groups.values()) {
    const verdict = scope.group(group);
    const link = links.get(linkKey('group', group.id));
    if (verdict.inScope) {
      groupsInScope.add(group.id);
      const op = planUpsert('group', group, link, mappings.group, verdict.detail);
      if (op.kind === 'skip') skips.push(op.entry);
      else if (op.operation !== null) groupOps.push(op.operation);
    } else if (link !== undefined) {
      removals.push({
        kind: 'delete',
        objectType: 'group',
        sourceId: group.id,
        targetId: link.targetId,
        steps: [{ step: 'scope', detail: `out of scope: ${verdict.detail}` }],
      });
    } else if (input.logSkips) {
      skips.push({
        objectType: 'group',
        sourceId: group.id,
        steps: [{ step: 'scope', detail: `out of scope: ${verdict.detail}` }],
      });
    }
  }
  upserts.push(...groupOps);

  for (const link of links.values()) {
    const present =
      link.objectType === 'user'
        ? snapshot.users.has(link.sourceId)
        : snapshot.groups.has(link.sourceId);
    if (present) continue;
    if (!snapshot.complete) {
      if (link.objectType === 'user' && link.enabled) usersInScope.add(link.sourceId);
      if (link.objectType === 'group') groupsInScope.add(link.sourceId);
      continue;
    }
    removals.push({
      kind: 'delete',
      objectType: link.objectType,
      sourceId: link.sourceId,
      targetId: link.targetId,
      steps: [{ step: 'import', detail: 'deleted in the source' }],
    });
  }

  // References: only to users that are (or will be) provisioned and enabled.
  const managerMapping = mappings.user.all.find((m) => m.reference === 'manager');
  if (managerMapping !== undefined) {
    for (const userId of usersInScope) {
      const user = snapshot.users.get(userId);
      if (user === undefined) continue;
      const value = managerMapping.compute(user);
      if (value === undefined) continue;
      const wanted = typeof value === 'string' && usersInScope.has(value) ? value : null;
      const exported = links.get(linkKey('user', userId))?.exported[MANAGER_KEY];
      const old = typeof exported === 'string' ? exported : null;
      // A user not linked yet, or matched, has no exported manager: set it when wanted.
      if (wanted !== old) managers.push({ userSourceId: userId, managerSourceId: wanted, old });
    }
  }
  orderCreatesByManager(upserts, managers);
  const membersMapping = mappings.group.all.find((m) => m.reference === 'members');
  if (membersMapping !== undefined) {
    for (const groupId of groupsInScope) {
      const group = snapshot.groups.get(groupId);
      if (group === undefined) continue;
      const value = membersMapping.compute(group);
      if (value === undefined) continue;
      const wanted = new Set(
        (Array.isArray(value) ? (value as string[]) : []).filter((id) => usersInScope.has(id)),
      );
      const exportedList = links.get(linkKey('group', groupId))?.exported[MEMBERS_KEY];
      const exported = new Set(Array.isArray(exportedList) ? (exportedList as string[]) : []);
      const add = [...wanted].filter((id) => !exported.has(id));
      const remove = [...exported].filter((id) => !wanted.has(id));
      if (add.length > 0 || remove.length > 0)
        memberships.push({ groupSourceId: groupId, add, remove });
    }
  }

  return {
    upserts,
    managers,
    memberships,
    removals,
    skips,
    inScope: { users: usersInScope.size, groups: groupsInScope.size },
  };
}

/**
 * Puts user creates in order of depth in the manager chain (managers first, stable
 * otherwise), so that the executor knows a manager's target id by the time its reports
 * are created and can send the manager in the create body rather than a PATCH after it.
 * A chain that loops is cut where it comes back to a user already on it.
 */
function orderCreatesByManager(upserts: UpsertOperation[], managers: readonly ManagerOperation[]) {
  const managerOf = new Map<string, string>();
  for (const m of managers)
    if (m.managerSourceId !== null) managerOf.set(m.userSourceId, m.managerSourceId);
  if (managerOf.size === 0) return;
  const depths = new Map<string, number>();
  const depth = (id: string): number => {
    const known = depths.get(id);
    if (known !== undefined) return known;
    const chain: string[] = [];
    const onChain = new Set<string>();
    let at: string | undefined = id;
    let base = 0;
    while (at !== undefined && !onChain.has(at)) {
      const d = depths.get(at);
      if (d !== undefined) {
        base = d + 1;
        break;
      }
      chain.push(at);
      onChain.add(at);
      at = managerOf.get(at);
    }
    for (let i = chain.length - 1; i >= 0; i--)
      depths.set(chain[i]!, base + (chain.length - 1 - i));
    return depths.get(id)!;
  };
  const creates: UpsertOperation[] = [];
  const positions: number[] = [];
  upserts.forEach((op, i) => {
    if (op.kind === 'create' && op.objectType === 'user') {
      creates.push(op);
      positions.push(i);
    }
  });
  const keyed = creates.map((op, i) => ({ op, i, d: depth(op.sourceId) }));
  keyed.sort((a, b) => a.d - b.d || a.i - b.i);
  keyed.forEach((k, j) => (upserts[positions[j]!] = k.op));
}

type PlannedUpsert =
  { kind: 'op'; operation: UpsertOperation | null } | { kind: 'skip'; entry: SkipEntry };

function planUpsert(
  objectType: ObjectType,
  object: SourceObject | SourceGroup,
  link: Link | undefined,
  mappings: CompiledMappingsFor,
  scopeDetail: string,
): PlannedUpsert {
  const desired: Record<string, ExportedValue> = {};
  const alwaysPaths: string[] = [];
  for (const mapping of mappings.all) {
    if (mapping.reference !== null) continue;
    let value: ExportedValue | undefined;
    try {
      value = mapping.compute(object);
    } catch (error) {
      const message = `mapping to ${mapping.target.text} failed: ${(error as Error).message}`;
      return {
        kind: 'skip',
        entry: {
          objectType,
          sourceId: object.id,
          steps: [{ step: 'import', detail: message }],
          error: message,
        },
      };
    }
    if (value === undefined) continue; // the expression asked not to flow
    if (mapping.apply === 'always') alwaysPaths.push(mapping.target.text);
    else if (link !== undefined) continue; // "only on object creation"
    if (value === null && link === undefined && mapping.defaultValue !== undefined)
      value = mapping.defaultValue;
    desired[mapping.target.text] = value;
  }
  const steps: LogStep[] = [
    { step: 'import', detail: `${objectType} ${object.id} read from the source` },
    { step: 'scope', detail: `in scope: ${scopeDetail}` },
  ];
  if (link === undefined) {
    const matchers: Matcher[] = [];
    for (const mapping of mappings.matching) {
      const value = desired[mapping.target.text];
      if (typeof value === 'string' && value !== '')
        matchers.push({ path: mapping.target.text, value });
    }
    if (matchers.length === 0) {
      return {
        kind: 'skip',
        entry: {
          objectType,
          sourceId: object.id,
          steps: [
            ...steps,
            { step: 'match', detail: 'no matching attribute has a value; not provisioned' },
          ],
        },
      };
    }
    return {
      kind: 'op',
      operation: {
        kind: 'create',
        objectType,
        sourceId: object.id,
        targetId: null,
        desired,
        changes: [],
        matchers,
        alwaysPaths,
        steps,
      },
    };
  }
  const changes: ModifiedProperty[] = [];
  for (const path of alwaysPaths) {
    const next = desired[path] ?? null;
    const old = link.exported[path] ?? null;
    if (!sameValue(old, next)) changes.push({ name: path, old, new: next });
  }
  if (changes.length === 0) return { kind: 'op', operation: null };
  return {
    kind: 'op',
    operation: {
      kind: 'update',
      objectType,
      sourceId: object.id,
      targetId: link.targetId,
      desired,
      changes,
      matchers: [],
      alwaysPaths,
      steps: [...steps, { step: 'match', detail: `linked to target ${link.targetId}` }],
    },
  };
}

type CompiledMappingsFor = CompiledMappings[ObjectType];
export type { CompiledMapping };

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined)
    return (a ?? null) === (b ?? null);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => v === b[i]);
  return false;
}
