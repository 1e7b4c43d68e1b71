import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';

export interface OrgChartNode {
  id: string;
  /** displayName, else userName. */
  displayName: string;
  /** As provisioned; null, or naming a user not in the chart, makes this node a root. */
  managerId: string | null;
  reports: OrgChartNode[];
}

export interface OrgChart {
  roots: OrgChartNode[];
  /** Users in the chart. */
  size: number;
}

const PAGE = 1000;

/**
 * The manager tree of an account. Users are read in keyset pages of id, display name
 * and manager only (never whole records), then linked in memory. A user whose manager
 * is absent (none, not provisioned, or deactivated when those are left out) is a root.
 * Manager links that loop (A manages B manages A, an IdP data error) would leave their
 * members unreachable: the first of them by id becomes a root so nobody disappears.
 */
export async function buildOrgChart(
  db: Kysely<Database>,
  accountId: string,
  options: { includeInactive?: boolean } = {},
): Promise<OrgChart> {
  const nodes = new Map<string, OrgChartNode>();
  let after = '';
  for (;;) {
    let query = db
      .selectFrom('users')
      .select(['id', 'display_name', 'user_name', 'manager_id'])
      .where('account_id', '=', accountId)
      .where('id', '>', after);
    if (options.includeInactive !== true) query = query.where('active', '=', 1);
    const rows = await query.orderBy('id').limit(PAGE).execute();
    for (const row of rows) {
      nodes.set(row.id, {
        id: row.id,
        displayName: row.display_name ?? row.user_name,
        managerId: row.manager_id,
        reports: [],
      });
    }
    const last = rows.at(-1);
    if (last === undefined || rows.length < PAGE) break;
    after = last.id;
  }

  const roots: OrgChartNode[] = [];
  for (const node of nodes.values()) {
    const manager =
      node.managerId === null || node.managerId === node.id ? undefined : nodes.get(node.managerId);
    if (manager === undefined) roots.push(node);
    else manager.reports.push(node);
  }
  // Nodes not reachable from a root sit on a manager cycle.
  const reached = new Set<string>();
  const mark = (start: OrgChartNode): void => {
    const stack = [start];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (reached.has(node.id)) continue;
      reached.add(node.id);
      stack.push(...node.reports);
    }
  };
  roots.forEach(mark);
  for (const node of nodes.values()) {
    if (reached.has(node.id)) continue;
    const manager = nodes.get(node.managerId ?? '');
    if (manager !== undefined) manager.reports = manager.reports.filter((r) => r !== node);
    roots.push(node);
    mark(node);
  }
  const byName = (a: OrgChartNode, b: OrgChartNode): number =>
    a.displayName.localeCompare(b.displayName) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  for (const node of nodes.values()) node.reports.sort(byName);
  roots.sort(byName);
  return { roots, size: nodes.size };
}
