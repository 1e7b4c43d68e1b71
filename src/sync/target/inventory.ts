import { parseTargetPath, readPath } from '../mapping/target-paths.js';
import type { ScimTargetClient } from './client.js';

/**
 * The target's objects of one type, read page by page once, indexed by each matching
 * attribute: an initial cycle of 100,000 users then matches in memory instead of sending a
 * filtered query per user (Entra's way), halving its requests. Case-insensitive attributes
 * (RFC 7643: userName, displayName, e-mail values) are indexed lower-cased; externalId is
 * case-exact. Anything unexpected (no paging, an error) returns null, and the executor
 * matches object by object as Entra does.
 */
export interface Inventory {
  /** Target objects whose attribute at `path` equals `value` (0, 1 or more). */
  find(path: string, value: string): Record<string, unknown>[];
  readonly size: number;
}

const CASE_EXACT = new Set(['externalid', 'id']);
const PAGE = 1000;
const MAX_OBJECTS = 2_000_000;

export async function loadInventory(
  client: ScimTargetClient,
  resource: 'Users' | 'Groups',
  matchingPaths: readonly string[],
): Promise<Inventory | null> {
  const paths = matchingPaths.map((p) => ({
    text: p,
    parsed: parseTargetPath(p),
    exact: CASE_EXACT.has(p.toLowerCase()),
  }));
  const indexes = new Map(paths.map((p) => [p.text, new Map<string, Record<string, unknown>[]>()]));
  const seen = new Set<string>();
  let startIndex = 1;
  for (;;) {
    const excluded = resource === 'Groups' ? '&excludedAttributes=members' : '';
    const response = await client
      .request('GET', `/${resource}?startIndex=${startIndex}&count=${PAGE}${excluded}`)
      .catch(() => null);
    if (response === null || response.status !== 200) return null;
    const body = response.body as {
      totalResults?: unknown;
      Resources?: unknown;
      itemsPerPage?: unknown;
    };
    if (typeof body !== 'object' || body === null || typeof body.totalResults !== 'number')
      return null;
    const page = Array.isArray(body.Resources) ? (body.Resources as Record<string, unknown>[]) : [];
    for (const item of page) {
      const id = item.id;
      if (typeof id !== 'string' || seen.has(id)) continue;
      seen.add(id);
      for (const path of paths) {
        const value = readPath(item, path.parsed);
        if (typeof value !== 'string') continue;
        const key = path.exact ? value : value.toLowerCase();
        const index = indexes.get(path.text)!;
        const list = index.get(key);
        if (list === undefined) index.set(key, [item]);
        else list.push(item);
      }
    }
    startIndex += page.length;
    if (page.length === 0 || startIndex > body.totalResults) break;
    if (seen.size > MAX_OBJECTS) return null;
  }
  return {
    size: seen.size,
    find(path, value) {
      const exact = CASE_EXACT.has(path.toLowerCase());
      return indexes.get(path)?.get(exact ? value : value.toLowerCase()) ?? [];
    },
  };
}
