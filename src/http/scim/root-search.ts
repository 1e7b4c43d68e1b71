import { ScimError } from '../../core/errors.js';
import type { JsonObject } from '../../core/resource/values.js';
import { parsePaging, type RawListParams } from '../../app/scim/list-params.js';
import { listResponse } from '../../app/scim/render.js';
import type { ScimResult } from '../../app/scim/result.js';

interface Lister {
  list(params: RawListParams): Promise<ScimResult>;
}

/**
 * `POST /.search` at the service root (RFC 7644 §3.4.3): Users, then Groups.
 * A filter naming an attribute one type lacks matches nothing of that type;
 * it is an error only when neither type knows it. Sorting applies per type.
 */
export async function searchAll(
  users: Lister,
  groups: Lister,
  params: RawListParams,
): Promise<JsonObject> {
  const { startIndex, count } = parsePaging(params);
  const listers = [users, groups];
  const totals: number[] = [];
  const errors: ScimError[] = [];
  for (const lister of listers) {
    try {
      const result = await lister.list({ ...params, startIndex: 1, count: 0 });
      totals.push(Number(result.body?.['totalResults'] ?? 0));
    } catch (error) {
      if (!(error instanceof ScimError) || error.scimType !== 'invalidFilter') throw error;
      errors.push(error);
      totals.push(-1);
    }
  }
  if (errors.length === listers.length) throw errors[0]!;
  const resources: JsonObject[] = [];
  let skip = startIndex - 1;
  let remaining = count;
  for (const [i, lister] of listers.entries()) {
    const total = totals[i]!;
    if (total <= 0) continue;
    if (skip >= total) {
      skip -= total;
      continue;
    }
    if (remaining > 0) {
      const take = Math.min(remaining, total - skip);
      const page = await lister.list({ ...params, startIndex: skip + 1, count: take });
      const found = (page.body?.['Resources'] ?? []) as JsonObject[];
      resources.push(...found);
      remaining -= found.length;
      // Cut short by the page's byte budget: the next page starts right after it.
      if (found.length < take) break;
    }
    skip = 0;
  }
  const total = totals.reduce((sum, t) => sum + Math.max(0, t), 0);
  return listResponse(total, startIndex, resources);
}
