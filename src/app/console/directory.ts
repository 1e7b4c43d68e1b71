import { sql, type Kysely } from 'kysely';
import { USER_RESOURCE } from '../../core/schemas/rfc7643.js';
import type { JsonObject } from '../../core/resource/values.js';
import type { DialectName } from '../../storage/connect.js';
import { KyselyAccountStore } from '../../storage/account-store.js';
import type { Database } from '../../storage/db-schema.js';
import { getProductTeam, type ProductTeam } from '../directory/teams.js';
import { getProductUser, type ProductUser } from '../directory/users.js';
import { AppError } from '../errors.js';
import { parseListParams } from '../scim/list-params.js';
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
  db: Kysely<Database>,
  dialect: DialectName,
  accountId: string,
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
  const store = new KyselyAccountStore(db, dialect, accountId);
  const page = await store.listUsers(query);
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

export async function userDetail(
  db: Kysely<Database>,
  accountId: string,
  userId: string,
): Promise<UserDetail> {
  const user = await getProductUser(db, accountId, userId);
  const row = await db
    .selectFrom('users')
    .select('data')
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const attributes = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as JsonObject;
  let manager: UserDetail['manager'] = null;
  if (user.managerId !== null) {
    const m = await db
      .selectFrom('users')
      .select(['id', 'display_name', 'user_name', 'active'])
      .where('account_id', '=', accountId)
      .where('id', '=', user.managerId)
      .executeTakeFirst();
    manager =
      m === undefined
        ? { id: user.managerId, displayName: user.managerId, active: false, missing: true }
        : {
            id: m.id,
            displayName: m.display_name ?? m.user_name,
            active: Number(m.active) === 1,
            missing: false,
          };
  }
  const reportsQuery = db
    .selectFrom('users')
    .where('account_id', '=', accountId)
    .where('manager_id', '=', userId);
  const reports = await reportsQuery
    .select(['id', 'display_name', 'user_name', 'active'])
    // `|| ''`: sorted after the (account_id, manager_id) lookup. SQLite, which runs without
    // statistics, would otherwise walk the whole display-name index to avoid sorting ten rows.
    .orderBy(sql`display_name || ''`)
    .orderBy('id')
    .limit(MAX_REPORTS_SHOWN)
    .execute();
  const reportCount = Number(
    (await reportsQuery.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow())
      .n,
  );
  const teams =
    user.teams.length === 0
      ? []
      : await db
          .selectFrom('groups')
          .select(['id', 'display_name'])
          .where('account_id', '=', accountId)
          .where('id', 'in', user.teams)
          .orderBy('display_name_lc')
          .execute();
  return {
    user,
    attributes,
    manager,
    reports: reports.map((r) => ({
      id: r.id,
      displayName: r.display_name ?? r.user_name,
      active: Number(r.active) === 1,
    })),
    reportCount,
    teams: teams.map((t) => ({ id: t.id, displayName: t.display_name })),
    history: await userHistory(db, accountId, userId),
  };
}

/**
 * A user's history from the event log: each user event carries the user as it became, so
 * consecutive snapshots give the before/after of every change; team events say which team.
 */
async function userHistory(
  db: Kysely<Database>,
  accountId: string,
  userId: string,
): Promise<HistoryEntry[]> {
  const userEvents = await db
    .selectFrom('events')
    .select(['seq', 'type', 'occurred_at', 'data', 'resource_type', 'resource_id'])
    .where('account_id', '=', accountId)
    .where('resource_id', '=', userId)
    .orderBy('seq', 'desc')
    .limit(MAX_HISTORY)
    .execute();
  const rows = [...userEvents].reverse();
  const out: HistoryEntry[] = [];
  let previous: Record<string, unknown> | null = null;
  for (const row of rows) {
    const data = JSON.parse(row.data) as Record<string, unknown>;
    const snapshot = (
      typeof data['user'] === 'object' && data['user'] !== null ? data['user'] : data
    ) as Record<string, unknown>;
    const changes: AttributeChange[] = [];
    if (row.type === 'user.deleted') {
      changes.push({ attribute: 'user', before: previous?.['userName'] ?? userId, after: null });
    } else {
      for (const key of new Set([...Object.keys(previous ?? {}), ...Object.keys(snapshot)])) {
        if (key === 'updatedAt' || key === 'createdAt' || key === 'id' || key === 'teams') continue;
        const before = previous?.[key] ?? null;
        const after = snapshot[key] ?? null;
        if (JSON.stringify(before) !== JSON.stringify(after))
          changes.push({ attribute: key, before, after });
      }
      previous = snapshot;
    }
    out.push({ seq: Number(row.seq), at: row.occurred_at, type: row.type, changes, team: null });
  }
  // Memberships: team events that name this user as member.
  const teamEvents = await db
    .selectFrom('events')
    .select(['seq', 'type', 'occurred_at', 'data', 'resource_id'])
    .where('account_id', '=', accountId)
    .where('type', 'in', ['team.member_added', 'team.member_removed'])
    .where('data', 'like', `%${userId}%`)
    .orderBy('seq', 'desc')
    .limit(MAX_HISTORY)
    .execute();
  if (teamEvents.length > 0) {
    const names = new Map(
      (
        await db
          .selectFrom('groups')
          .select(['id', 'display_name'])
          .where('account_id', '=', accountId)
          .where('id', 'in', [...new Set(teamEvents.map((e) => e.resource_id))])
          .execute()
      ).map((g) => [g.id, g.display_name]),
    );
    for (const e of teamEvents)
      out.push({
        seq: Number(e.seq),
        at: e.occurred_at,
        type: e.type,
        changes: [],
        team: { id: e.resource_id, displayName: names.get(e.resource_id) ?? null },
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
  db: Kysely<Database>,
  dialect: DialectName,
  accountId: string,
  parentId: string | null,
  page: {
    after?: readonly [string, string] | undefined;
    limit: number;
    /** Most root ids read ahead of the page (MAX_ROOT_IDS; tests lower it). */
    maxRootIds?: number;
  },
): Promise<{ nodes: OrgNode[]; next: [string, string] | null }> {
  const maxRootIds = page.maxRootIds ?? MAX_ROOT_IDS;
  // The roots, found from the (account_id, manager_id) index rather than by testing
  // every user: no manager, a manager who is not an active user of the account, or their
  // own manager. The distinct managers are read once (a common table expression), then
  // probed by primary key: 10,000 probes for 100,000 users with 10,000 managers.
  const roots = sql<{ id: string }>`(
    SELECT id FROM users WHERE account_id = ${accountId} AND manager_id IS NULL AND active = 1
    UNION
    SELECT r.id FROM users r
      WHERE r.account_id = ${accountId} AND r.active = 1
        AND r.manager_id IN (
          SELECT mgr.id FROM mgr WHERE NOT EXISTS (
            SELECT 1 FROM users m
            WHERE m.account_id = ${accountId} AND m.id = mgr.id AND m.active = 1))
    UNION
    SELECT m.id FROM mgr JOIN users m ON m.account_id = ${accountId} AND m.id = mgr.id
      WHERE m.manager_id = m.id AND m.active = 1)`;
  const withManagers = () =>
    db.with('mgr', (w) =>
      w
        .selectFrom('users')
        .select('manager_id as id')
        .distinct()
        .where('account_id', '=', accountId)
        .where('manager_id', 'is not', null),
    );
  // The root ids first, on their own, then the page read by id: joined in one statement,
  // PostgreSQL cannot estimate how few the roots are and hash-joins a scan of every user.
  // An account without manager data has as many roots as users: above MAX_ROOT_IDS the
  // page is read in one statement instead.
  let rootIds: string[] | undefined;
  if (parentId === null) {
    const found =
      dialect === 'postgres'
        ? (await postgresRootIds(db, accountId, maxRootIds + 1)).rows
        : await withManagers()
            .selectFrom(roots.as('root'))
            .select('root.id')
            .limit(maxRootIds + 1)
            .execute();
    if (found.length <= maxRootIds) rootIds = found.map((r) => r.id);
    if (rootIds?.length === 0) return { nodes: [], next: null };
  }
  // Roots: read from the root ids by primary key, not by walking every user (a CROSS
  // JOIN keeps SQLite's planner from putting the users table outside; PostgreSQL plans it
  // as the join it is).
  const from =
    parentId === null && rootIds === undefined
      ? (withManagers()
          .selectFrom(roots.as('root'))
          .crossJoin('users as u')
          .whereRef('u.id', '=', 'root.id') as unknown as ReturnType<typeof usersAsU>)
      : usersAsU();
  function usersAsU() {
    return db.selectFrom('users as u');
  }
  let query = from
    .select((eb) => [
      'u.id',
      'u.display_name',
      'u.user_name',
      'u.data',
      eb
        .selectFrom('users as r')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('r.manager_id', '=', 'u.id')
        .where('r.account_id', '=', accountId)
        .where('r.active', '=', 1)
        .as('report_count'),
    ])
    .where('u.account_id', '=', accountId)
    .where('u.active', '=', 1);
  if (parentId !== null)
    query = query.where('u.manager_id', '=', parentId).where('u.id', '!=', parentId);
  else if (rootIds !== undefined) query = query.where('u.id', 'in', rootIds);
  if (page.after !== undefined) {
    const [name, id] = page.after;
    query = query.where((eb) =>
      eb.or([
        eb('u.user_name_lc', '>', name),
        eb.and([eb('u.user_name_lc', '=', name), eb('u.id', '>', id)]),
      ]),
    );
  }
  const rows = await query
    // As for direct reports: read the level by manager, then sort it (see userDetail).
    .orderBy(sql`u.user_name_lc || ''`)
    .orderBy('u.id')
    .limit(page.limit + 1)
    .select('u.user_name_lc')
    .execute();
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  return {
    nodes: kept.map((r) => {
      const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as JsonObject;
      return {
        id: r.id,
        displayName: r.display_name ?? r.user_name,
        title: typeof data['title'] === 'string' ? data['title'] : null,
        reportCount: Number(r.report_count ?? 0),
      };
    }),
    next: rows.length > page.limit && last !== undefined ? [last.user_name_lc, last.id] : null,
  };
}

/**
 * The org chart's root ids on PostgreSQL, as `roots` in orgChartLevel: each distinct
 * manager is looked up by primary key (a LATERAL subquery, so a nested loop of 10,000
 * probes) and that one lookup tells both whether the manager is an active user and whether
 * they manage themselves. Planned as joins, the same tests hash-join two sequential scans
 * of every user.
 */
function postgresRootIds(db: Kysely<Database>, accountId: string, limit: number) {
  return sql<{ id: string }>`
    WITH mgr AS MATERIALIZED (
      SELECT DISTINCT manager_id AS id FROM users
      WHERE account_id = ${accountId} AND manager_id IS NOT NULL),
    probe AS MATERIALIZED (
      SELECT mgr.id, p.found, p.active, p.manager_id FROM mgr
      LEFT JOIN LATERAL (
        SELECT true AS found, m.active, m.manager_id FROM users m
        WHERE m.id = mgr.id AND m.account_id = ${accountId} OFFSET 0) p ON true)
    SELECT id FROM users WHERE account_id = ${accountId} AND manager_id IS NULL AND active = 1
    UNION
    SELECT r.id FROM users r
      WHERE r.account_id = ${accountId} AND r.active = 1
        AND r.manager_id IN (SELECT id FROM probe WHERE found IS NULL OR active <> 1)
    UNION
    SELECT id FROM probe WHERE manager_id = id AND active = 1
    LIMIT ${limit}`.execute(db);
}

/** The chain of managers from the top of the chart down to the user (for "find in chart"). */
export async function orgChartPath(
  db: Kysely<Database>,
  accountId: string,
  userId: string,
): Promise<string[]> {
  const path: string[] = [];
  const seen = new Set<string>();
  let current: string | null = userId;
  while (current !== null && !seen.has(current) && path.length < 100) {
    seen.add(current);
    const row: { id: string; manager_id: string | null } | undefined = await db
      .selectFrom('users')
      .select(['id', 'manager_id'])
      .where('account_id', '=', accountId)
      .where('id', '=', current)
      .where('active', '=', 1)
      .executeTakeFirst();
    if (row === undefined) {
      if (path.length === 0)
        throw new AppError('not_found', `no active user ${userId} in this account`);
      break;
    }
    path.unshift(row.id);
    current = row.manager_id;
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

export async function teamDetail(
  db: Kysely<Database>,
  accountId: string,
  teamId: string,
): Promise<TeamDetail> {
  const team = await getProductTeam(db, accountId, teamId);
  const parents = await db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', (j) =>
      j.onRef('g.id', '=', 'm.group_id').onRef('g.account_id', '=', 'm.account_id'),
    )
    .select(['g.id', 'g.display_name'])
    .where('m.account_id', '=', accountId)
    .where('m.member_id', '=', teamId)
    .orderBy('g.display_name_lc')
    .limit(200)
    .execute();
  const subTeams = await db
    .selectFrom('group_members as m')
    .innerJoin('groups as g', (j) =>
      j.onRef('g.id', '=', 'm.member_id').onRef('g.account_id', '=', 'm.account_id'),
    )
    .select(['g.id', 'g.display_name'])
    .where('m.account_id', '=', accountId)
    .where('m.group_id', '=', teamId)
    .where('m.member_type', '=', 'Group')
    .orderBy('g.display_name_lc')
    .limit(200)
    .execute();
  return {
    team,
    parents: parents.map((p) => ({ id: p.id, displayName: p.display_name })),
    subTeams: subTeams.map((p) => ({ id: p.id, displayName: p.display_name })),
  };
}
