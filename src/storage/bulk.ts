/**
 * Bound parameters one statement may carry. SQLite refuses more than 32,766 variables
 * ("too many SQL variables") and PostgreSQL's wire protocol more than 65,535 ("bind
 * message ..."); a statement built from a request's list (members, emails, events) must
 * stay below both whatever the list's length, so every bulk statement is cut into
 * statements of at most this many parameters.
 */
export const MAX_PARAMETERS_PER_STATEMENT = 10_000;

/** `items` in slices that keep a statement binding `perItem` parameters each under the limit. */
export function bulkChunks<T>(items: readonly T[], perItem: number, cap = 1000): T[][] {
  const size = Math.max(1, Math.min(cap, Math.floor(MAX_PARAMETERS_PER_STATEMENT / perItem)));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
