import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { AppError } from '../errors.js';
import { toPage, type Page, type PageRequest } from './paging.js';

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

/**
 * Most users answered as one tree: a larger chart (200k users was a 21 MB response built
 * in memory) is read in pages of flat nodes (`listOrgChartNodes`) instead.
 */
export const MAX_ORG_CHART_TREE = 10_000;

/** A user in a page of the org chart: the tree is rebuilt by the client from `managerId`. */
export interface OrgChartEntry {
  id: string;
  displayName: string;
  managerId: string | null;
  /** Direct reports in the chart (active ones unless includeInactive). */
  directReports: number;
}

/** The tree, when the chart is small enough for one answer; a 400 that says how to page otherwise. */
export async function orgChartTree(
  db: Kysely<Database>,
  accountId: string,
  options: { includeInactive?: boolean } = {},
): Promise<OrgChart> {
  let count = db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId);
  if (options.includeInactive !== true) count = count.where('active', '=', 1);
  const size = Number((await count.executeTakeFirstOrThrow()).n);
  if (size > MAX_ORG_CHART_TREE) {
    throw new AppError(
      'invalid',
      `the org chart has ${size} users, more than the ${MAX_ORG_CHART_TREE} answered as one tree: read it in pages with ?limit=200 and then ?cursor=<nextCursor> (flat nodes with managerId), or one manager's reports with ?managerId=<id>`,
    );
  }
  return buildOrgChart(db, accountId, options);
}

/** One page of the org chart as flat nodes, by id; optionally only one manager's direct reports. */
export async function listOrgChartNodes(
  db: Kysely<Database>,
  accountId: string,
  page: PageRequest,
  options: { includeInactive?: boolean; managerId?: string | undefined } = {},
): Promise<Page<OrgChartEntry>> {
  let query = db
    .selectFrom('users')
    .select(['id', 'display_name', 'user_name', 'manager_id'])
    .where('account_id', '=', accountId);
  if (options.includeInactive !== true) query = query.where('active', '=', 1);
  if (options.managerId !== undefined) query = query.where('manager_id', '=', options.managerId);
  const start = page.start;
  if (start.kind === 'cursor') query = query.where('id', '>', start.key[0] ?? '');
  query = query.orderBy('id').limit(page.limit + 1);
  if (start.kind === 'offset') query = query.offset(start.offset);
  const rows = await query.execute();
  const kept = rows.slice(0, page.limit).map((r) => r.id);
  const counts = new Map<string, number>();
  if (kept.length > 0) {
    let reports = db
      .selectFrom('users')
      .select(['manager_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('account_id', '=', accountId)
      .where('manager_id', 'in', kept);
    if (options.includeInactive !== true) reports = reports.where('active', '=', 1);
    for (const row of await reports.groupBy('manager_id').execute())
      if (row.manager_id !== null) counts.set(row.manager_id, Number(row.n));
  }
  return toPage(
    rows,
    page.limit,
    (r) => [r.id],
    (page) =>
      page.map((r) => ({
        id: r.id,
        displayName: r.display_name ?? r.user_name,
        managerId: r.manager_id,
        directReports: counts.get(r.id) ?? 0,
      })),
  );
}
