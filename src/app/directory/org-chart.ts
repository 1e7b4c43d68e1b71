import type { JsonObject } from '../../core/resource/values.js';
import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
import { pageFrom, type Page, type PageRequest } from './paging.js';
import type { Slice } from './store.js';

/** A user as the org chart places them. */
export interface OrgPerson {
  readonly id: string;
  /** displayName, else userName. */
  readonly displayName: string;
  readonly managerId: string | null;
}

/** A user of one level of the console's org chart. */
export interface OrgLevelRow {
  readonly id: string;
  readonly displayName: string;
  readonly data: JsonObject;
  /** Active direct reports. */
  readonly reportCount: number;
}

/** The manager tree's reads, for one account (`AccountStores.orgChart`). */
export interface OrgChartStore {
  /** Users by id, active ones unless `includeInactive`; only one manager's reports with `managerId`. */
  people(
    page: PageRequest,
    options: { includeInactive: boolean; managerId?: string | undefined },
  ): Promise<Slice<OrgPerson>>;
  /** How many users the chart holds. */
  count(options: { includeInactive: boolean }): Promise<number>;
  /** Direct reports of each of these managers (managers without any are absent). */
  reportCounts(
    managerIds: readonly string[],
    options: { includeInactive: boolean },
  ): Promise<Map<string, number>>;
  /**
   * The active users whose manager is `parentId`, or the roots when null: no manager, a
   * manager who is not an active user of the account, or their own manager. Keyset-paged
   * by (user_name_lc, id); at most `maxRootIds` root ids are read ahead of the page.
   */
  level(
    parentId: string | null,
    page: { after?: readonly [string, string] | undefined; limit: number; maxRootIds: number },
  ): Promise<{ rows: OrgLevelRow[]; next: [string, string] | null }>;
  /** An active user of the account and their manager. */
  activeUser(id: string): Promise<{ id: string; managerId: string | null } | undefined>;
}

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
  stores: AccountStores,
  options: { includeInactive?: boolean } = {},
): Promise<OrgChart> {
  const includeInactive = options.includeInactive === true;
  const nodes = new Map<string, OrgChartNode>();
  let page: PageRequest = { limit: PAGE, start: { kind: 'first' } };
  for (;;) {
    const slice = await stores.orgChart.people(page, { includeInactive });
    for (const person of slice.rows) nodes.set(person.id, { ...person, reports: [] });
    if (slice.nextKey === null) break;
    page = { limit: PAGE, start: { kind: 'cursor', key: slice.nextKey } };
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
  stores: AccountStores,
  options: { includeInactive?: boolean } = {},
): Promise<OrgChart> {
  const size = await stores.orgChart.count({ includeInactive: options.includeInactive === true });
  if (size > MAX_ORG_CHART_TREE) {
    throw new AppError(
      'invalid',
      `the org chart has ${size} users, more than the ${MAX_ORG_CHART_TREE} answered as one tree: read it in pages with ?limit=200 and then ?cursor=<nextCursor> (flat nodes with managerId), or one manager's reports with ?managerId=<id>`,
    );
  }
  return buildOrgChart(stores, options);
}

/** One page of the org chart as flat nodes, by id; optionally only one manager's direct reports. */
export async function listOrgChartNodes(
  stores: AccountStores,
  page: PageRequest,
  options: { includeInactive?: boolean; managerId?: string | undefined } = {},
): Promise<Page<OrgChartEntry>> {
  const includeInactive = options.includeInactive === true;
  const slice = await stores.orgChart.people(page, {
    includeInactive,
    managerId: options.managerId,
  });
  const counts = await stores.orgChart.reportCounts(
    slice.rows.map((r) => r.id),
    { includeInactive },
  );
  return pageFrom(slice, (rows) =>
    rows.map((r) => ({ ...r, directReports: counts.get(r.id) ?? 0 })),
  );
}
