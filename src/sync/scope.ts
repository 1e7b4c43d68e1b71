import type { SourceGroup, SourceObject, SourceSnapshot } from './sources/source.js';

/**
 * Who is provisioned: all users and groups, or the chosen source groups and their members
 * (Entra's "assigned users and groups"); then the scoping filters, whose clauses are ANDed
 * and whose filters are ORed (src/sync/scoping implements Entra's operators).
 */
export interface ScopeConfig {
  /** objectIds of the source groups whose members are in scope; absent → everyone. */
  readonly groups?: readonly string[];
  /** Entra scoping filters on users (evaluated by the scoping module). */
  readonly userFilters?: readonly unknown[];
  /** Entra scoping filters on groups. */
  readonly groupFilters?: readonly unknown[];
}

/** Scoping filters, reached through this port (src/sync/scoping). */
export type ScopeFilterEvaluator = (
  filters: readonly unknown[],
  attributes: Record<string, unknown>,
) => boolean;

export interface ScopeVerdict {
  readonly inScope: boolean;
  readonly detail: string;
}

export interface Scope {
  user(user: SourceObject): ScopeVerdict;
  group(group: SourceGroup): ScopeVerdict;
}

export class ScopeError extends Error {
  override name = 'ScopeError';
}

export function buildScope(
  config: ScopeConfig,
  snapshot: SourceSnapshot,
  evaluateFilters?: ScopeFilterEvaluator,
): Scope {
  const needsFilters =
    (config.userFilters?.length ?? 0) > 0 || (config.groupFilters?.length ?? 0) > 0;
  if (needsFilters && evaluateFilters === undefined)
    throw new ScopeError('scoping filters are not available in this build');
  const assigned = config.groups === undefined ? null : new Set(config.groups);
  const assignedMembers = new Set<string>();
  if (assigned !== null)
    for (const id of assigned)
      for (const m of snapshot.groups.get(id)?.members ?? []) assignedMembers.add(m);

  const filtered = (
    filters: readonly unknown[] | undefined,
    object: SourceObject,
  ): ScopeVerdict | null => {
    if (filters === undefined || filters.length === 0) return null;
    const ok = evaluateFilters!(filters, { ...object.attributes, objectId: object.id });
    return ok ? null : { inScope: false, detail: 'no scoping filter matched' };
  };

  return {
    user(user) {
      if (assigned !== null && !assignedMembers.has(user.id))
        return { inScope: false, detail: 'not a member of an assigned group' };
      return (
        filtered(config.userFilters, user) ?? {
          inScope: true,
          detail: assigned === null ? 'all users are in scope' : 'member of an assigned group',
        }
      );
    },
    group(group) {
      if (assigned !== null && !assigned.has(group.id))
        return { inScope: false, detail: 'group not assigned' };
      return (
        filtered(config.groupFilters, group) ?? {
          inScope: true,
          detail: assigned === null ? 'all groups are in scope' : 'assigned group',
        }
      );
    },
  };
}
