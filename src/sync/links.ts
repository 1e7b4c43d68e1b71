import { linkKey } from './planner.js';
import type { Link, ObjectType, SyncStateStore } from './state.js';
import type { ScimTargetClient } from './target/client.js';

/**
 * Source ↔ target links an admin can see and repair (docs/engine.md, "Links"): list them,
 * find ambiguous ones (several source objects linked to one target object), unlink one
 * (the next cycle matches it again), relink one to a chosen target object, resync one
 * (the next cycle sends every mapped value again).
 */
export class LinkError extends Error {
  override name = 'LinkError';
}

export interface LinkQuery {
  readonly objectType?: ObjectType;
  /** A source or target id. */
  readonly objectId?: string;
  /** Only links that share their target object with another link. */
  readonly ambiguous?: boolean;
  readonly limit?: number;
}

export interface LinkView {
  readonly objectType: ObjectType;
  readonly sourceId: string;
  readonly targetId: string;
  readonly enabled: boolean;
  readonly exported: Link['exported'];
  /** Other source objects linked to the same target object. */
  readonly sharedWith: readonly string[];
}

export async function listLinks(
  state: SyncStateStore,
  jobId: string,
  query: LinkQuery = {},
): Promise<{ links: LinkView[]; total: number; ambiguous: number }> {
  const all = await state.loadLinks(jobId);
  const byTarget = new Map<string, string[]>();
  for (const link of all) {
    const key = `${link.objectType}:${link.targetId}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), link.sourceId]);
  }
  const shared = (link: Link) =>
    (byTarget.get(`${link.objectType}:${link.targetId}`) ?? []).filter((s) => s !== link.sourceId);
  const matching = all
    .filter((l) => query.objectType === undefined || l.objectType === query.objectType)
    .filter(
      (l) =>
        query.objectId === undefined ||
        l.sourceId === query.objectId ||
        l.targetId === query.objectId,
    )
    .filter((l) => !query.ambiguous || shared(l).length > 0)
    .sort((a, b) =>
      a.objectType === b.objectType
        ? a.sourceId.localeCompare(b.sourceId)
        : a.objectType.localeCompare(b.objectType),
    );
  const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
  return {
    links: matching.slice(0, limit).map((l) => ({
      objectType: l.objectType,
      sourceId: l.sourceId,
      targetId: l.targetId,
      enabled: l.enabled,
      exported: l.exported,
      sharedWith: shared(l),
    })),
    total: matching.length,
    ambiguous: all.filter((l) => shared(l).length > 0).length,
  };
}

async function linkOf(
  state: SyncStateStore,
  jobId: string,
  objectType: ObjectType,
  sourceId: string,
): Promise<Link | undefined> {
  return (await state.loadLinks(jobId)).find(
    (l) => linkKey(l.objectType, l.sourceId) === linkKey(objectType, sourceId),
  );
}

/** Forgets one link (and its escrow): the next cycle matches the object again. */
export async function unlink(
  state: SyncStateStore,
  jobId: string,
  objectType: ObjectType,
  sourceId: string,
): Promise<Link> {
  const link = await linkOf(state, jobId, objectType, sourceId);
  if (link === undefined) throw new LinkError(`${objectType} ${sourceId} is not linked`);
  await state.deleteLinks(jobId, [{ objectType, sourceId }]);
  await state.deleteEscrows(jobId, [{ objectType, sourceId }]);
  return link;
}

/**
 * Links the source object to the given target object, which must exist (checked with a
 * GET when a client is given) and not be linked to another source object. Nothing is
 * known of what it holds, so the next cycle sends every mapped value.
 */
export async function relink(
  state: SyncStateStore,
  jobId: string,
  objectType: ObjectType,
  sourceId: string,
  targetId: string,
  client?: ScimTargetClient,
): Promise<Link> {
  const links = await state.loadLinks(jobId);
  const taken = links.find(
    (l) => l.objectType === objectType && l.targetId === targetId && l.sourceId !== sourceId,
  );
  if (taken !== undefined)
    throw new LinkError(
      `target ${targetId} is linked to ${objectType} ${taken.sourceId}; unlink that one first`,
    );
  if (client !== undefined) {
    const resource = objectType === 'user' ? 'Users' : 'Groups';
    const response = await client.request(
      'GET',
      `/${resource}/${encodeURIComponent(targetId)}${objectType === 'group' ? '?excludedAttributes=members' : ''}`,
    );
    if (response.status !== 200)
      throw new LinkError(
        `the target has no ${objectType} ${targetId} (GET answered ${response.status})`,
      );
  }
  const link: Link = { objectType, sourceId, targetId, exported: {}, enabled: true };
  await state.upsertLinks(jobId, [link]);
  await state.deleteEscrows(jobId, [{ objectType, sourceId }]);
  return link;
}

/** The next cycle sends every mapped value of this object again (its exported values are forgotten). */
export async function resync(
  state: SyncStateStore,
  jobId: string,
  objectType: ObjectType,
  sourceId: string,
): Promise<Link> {
  const link = await linkOf(state, jobId, objectType, sourceId);
  if (link === undefined) throw new LinkError(`${objectType} ${sourceId} is not linked`);
  const next: Link = { ...link, exported: {}, enabled: true };
  await state.upsertLinks(jobId, [next]);
  await state.deleteEscrows(jobId, [{ objectType, sourceId }]);
  return next;
}
