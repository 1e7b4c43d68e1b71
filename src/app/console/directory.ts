import { USER_RESOURCE } from '../../core/schemas/rfc7643.js';
import type { JsonObject } from '../../core/resource/values.js';
import { getProductTeam, type ProductTeam } from '../directory/teams.js';
import { findProductUser, type ProductUser } from '../directory/users.js';
import { AppError } from '../errors.js';
import { parseListParams } from '../scim/list-params.js';
import type { AccountStores } from '../stores.js';
import { userView } from '../workspace/views.js';

/** One row of the console's user list. */
export interface UserSummary {
  id: string;
  userName: string;
  displayName: string | null;
  email: string | null;
  title: string | null;
  department: string | null;
  active: boolean;
}

export type UserStatus = 'all' | 'active' | 'deactivated';

/** A SCIM string literal: the search words are data, never filter syntax. */
function literal(text: string): string {
  return JSON.stringify(text);
}

/**
 * Searches users by userName, display name and e-mail through the SCIM filter engine and
 * the account store (the same SQL the SCIM endpoint runs), server-side paged in creation
 * order: the (account_id, created_at, id, ...) and (account_id, active, created_at, id, ...)
 * indexes give a page without sorting 100,000 users.
 */
export async function searchUsers(
  stores: AccountStores,
  input: { query?: string; status?: UserStatus; offset: number; limit: number },
): Promise<{ total: number; offset: number; users: UserSummary[] }> {
  const words = (input.query ?? '').trim();
  if (words.length > 200)
    throw new AppError('invalid', 'search words must be at most 200 characters');
  const parts: string[] = [];
  if (words !== '') {
    const w = literal(words);
    parts.push(
      // userName and displayName compare their folded columns, which end the list-order
      // indexes (migration 062): the substring test reads the index, not the stored users;
      // e-mail is one pass over the account's addresses (an IN subquery). The name
      // sub-attributes live in the JSON document: matching them would read and fold every
      // user's document per search (seconds at 100,000 users).
      `(userName co ${w} or displayName co ${w} or emails.value co ${w})`,
    );
  }
  if (input.status === 'active') parts.push('active eq true');
  if (input.status === 'deactivated') parts.push('active eq false');
  const { query } = parseListParams(
    {
      ...(parts.length > 0 ? { filter: parts.join(' and ') } : {}),
      startIndex: String(input.offset + 1),
      count: String(input.limit),
    },
    USER_RESOURCE,
  );
  const page = await stores.directory.listUsers(query);
  return {
    total: page.total,
    offset: input.offset,
    users: page.rows.map((row) => {
      const view = userView(row);
      return {
        id: row.id,
        userName: row.userName,
        displayName: row.displayName,
        email: (view['email'] as string | null) ?? null,
        title: (view['title'] as string | null) ?? null,
        department: (view['department'] as string | null) ?? null,
        active: row.active,
      };
    }),
  };
}

export interface PersonRef {
  id: string;
  displayName: string;
  active: boolean;
}

export interface AttributeChange {
  attribute: string;
  before: unknown;
  after: unknown;
}

export interface HistoryEntry {
  seq: number;
  at: string;
  type: string;
  /** Attribute by attribute, what the change did (before null: created; after null: removed). */
  changes: AttributeChange[];
  /** Team events: the team concerned. */
  team: { id: string; displayName: string | null } | null;
}

export interface UserDetail {
  user: ProductUser;
  /** The resource as provisioned (SCIM attributes, no password). */
  attributes: JsonObject;
  /** The manager named by the identity provider; `missing` when not (yet) provisioned. */
  manager: (PersonRef & { missing: boolean }) | null;
  reports: PersonRef[];
  reportCount: number;
  teams: { id: string; displayName: string }[];
  history: HistoryEntry[];
}

const MAX_REPORTS_SHOWN = 200;
const MAX_HISTORY = 200;
const MAX_RELATED_TEAMS = 200;

export async function userDetail(stores: AccountStores, userId: string): Promise<UserDetail> {
  const { user, row } = await findProductUser(stores, userId);
  let manager: UserDetail['manager'] = null;
  if (user.managerId !== null) {
    const m = await stores.directory.getUser(user.managerId);
    manager =
      m === undefined
        ? { id: user.managerId, displayName: user.managerId, active: false, missing: true }
        : { id: m.id, displayName: m.displayName ?? m.userName, active: m.active, missing: false };
  }
  const reports = await stores.views.reportsOf(userId, MAX_REPORTS_SHOWN);
  return {
    user,
    attributes: row.data,
    manager,
    reports: reports.people,
    reportCount: reports.count,
    teams: user.teams.length === 0 ? [] : await stores.views.teamsNamed(user.teams),
    history: await userHistory(stores, userId),
  };
}

/**
 * What changed between two snapshots of a resource, attribute by attribute (before null:
 * added; after null: removed), leaving out `skip`. Values compare as JSON.
 */
export function attributeChanges(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  skip: readonly string[],
): AttributeChange[] {
  const changes: AttributeChange[] = [];
  for (const key of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
    if (skip.includes(key)) continue;
    const b = before?.[key] ?? null;
    const a = after?.[key] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b))
      changes.push({ attribute: key, before: b, after: a });
  }
  return changes;
}

/**
 * A user's history from the event log: each user event carries the user as it became, so
 * consecutive snapshots give the before/after of every change; team events say which team.
 */
async function userHistory(stores: AccountStores, userId: string): Promise<HistoryEntry[]> {
  const userEvents = await stores.views.eventsOf(userId, { limit: MAX_HISTORY });
  const out: HistoryEntry[] = [];
  let previous: Record<string, unknown> | null = null;
  for (const event of [...userEvents].reverse()) {
    const data = event.data;
    const snapshot = (
      typeof data['user'] === 'object' && data['user'] !== null ? data['user'] : data
    ) as Record<string, unknown>;
    let changes: AttributeChange[];
    if (event.type === 'user.deleted') {
      changes = [{ attribute: 'user', before: previous?.['userName'] ?? userId, after: null }];
    } else {
      changes = attributeChanges(previous, snapshot, ['updatedAt', 'createdAt', 'id', 'teams']);
      previous = snapshot;
    }
    out.push({ seq: event.seq, at: event.at, type: event.type, changes, team: null });
  }
  // Memberships: team events that name this user as member.
  const teamEvents = await stores.views.membershipEventsOf(userId, MAX_HISTORY);
  const names = await stores.views.resourceNames([...new Set(teamEvents.map((e) => e.resourceId))]);
  for (const e of teamEvents) {
    const team = names.get(e.resourceId);
    out.push({
      seq: e.seq,
      at: e.at,
      type: e.type,
      changes: [],
      team: { id: e.resourceId, displayName: team?.type === 'team' ? team.name : null },
    });
  }
  return out.sort((a, b) => b.seq - a.seq).slice(0, MAX_HISTORY);
}

/** Root ids read ahead of the page (bound parameters of one statement). */
const MAX_ROOT_IDS = 5000;

export interface OrgNode {
  id: string;
  displayName: string;
  title: string | null;
  reportCount: number;
}

/**
 * One level of the org chart: the active users whose manager is `parentId`, or the roots
 * (no manager, or a manager who is not an active user of the account) when it is null.
 * Keyset-paged by display name, so a level of 10,000 loads a page at a time.
 */
export async function orgChartLevel(
  stores: AccountStores,
  parentId: string | null,
  page: {
    after?: readonly [string, string] | undefined;
    limit: number;
    /** Most root ids read ahead of the page (MAX_ROOT_IDS; tests lower it). */
    maxRootIds?: number;
  },
): Promise<{ nodes: OrgNode[]; next: [string, string] | null }> {
  const level = await stores.orgChart.level(parentId, {
    after: page.after,
    limit: page.limit,
    maxRootIds: page.maxRootIds ?? MAX_ROOT_IDS,
  });
  return {
    nodes: level.rows.map((r) => ({
      id: r.id,
      displayName: r.displayName,
      title: typeof r.data['title'] === 'string' ? r.data['title'] : null,
      reportCount: r.reportCount,
    })),
    next: level.next,
  };
}

/** The chain of managers from the top of the chart down to the user (for "find in chart"). */
export async function orgChartPath(stores: AccountStores, userId: string): Promise<string[]> {
  const path: string[] = [];
  const seen = new Set<string>();
  let current: string | null = userId;
  while (current !== null && !seen.has(current) && path.length < 100) {
    seen.add(current);
    const user = await stores.orgChart.activeUser(current);
    if (user === undefined) {
      if (path.length === 0)
        throw new AppError('not_found', `no active user ${userId} in this account`);
      break;
    }
    path.unshift(user.id);
    current = user.managerId;
  }
  return path;
}

export interface TeamDetail {
  team: ProductTeam;
  /** Teams that hold this team as a member. */
  parents: { id: string; displayName: string }[];
  /** Teams that are members of this team. */
  subTeams: { id: string; displayName: string }[];
}

export async function teamDetail(stores: AccountStores, teamId: string): Promise<TeamDetail> {
  const team = await getProductTeam(stores, teamId);
  return { team, ...(await stores.views.teamRelations(teamId, MAX_RELATED_TEAMS)) };
}
