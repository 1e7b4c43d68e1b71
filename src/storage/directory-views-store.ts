import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { PageRequest } from '../app/directory/paging.js';
import type {
  DirectoryViews,
  EventsQuery,
  NamedRef,
  ResourceEvent,
  ResourceName,
  Slice,
} from '../app/directory/store.js';
import type { ProductTeam, TeamMember } from '../app/directory/teams.js';
import type { UserRow } from '../app/ports.js';
import { toUser } from './account-store.js';
import type { SqlDialect } from './connect.js';
import type { Database } from './db-schema.js';

/**
 * `limit + 1` rows read for a page as a slice: the extra row only says there is more,
 * and the key of the last kept row continues the list.
 */
export function sliceOf<R, T>(
  rows: R[],
  limit: number,
  key: (row: R) => readonly string[],
  map: (row: R) => T,
): Slice<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { rows: kept.map(map), nextKey: more && last !== undefined ? key(last) : null };
}

/** The parts of a select query that keyset paging needs. */
interface Pageable<Q> {
  where(condition: Expression<SqlBool>): Q;
  orderBy(expression: Expression<unknown>): Q;
  limit(limit: number): Q;
  offset(offset: number): Q;
}

/**
 * A page of `query` in the order of `columns` (its unique sort key): after the key of a
 * cursor (`(a > ?) OR (a = ? AND b > ?)`, which the (account_id, a, b) indexes answer),
 * or from an offset; `limit + 1` rows, the extra one saying there is more.
 */
export function keysetPage<Q extends Pageable<Q>>(
  query: Q,
  page: PageRequest,
  columns: readonly string[],
): Q {
  const start = page.start;
  if (start.kind === 'cursor') query = query.where(afterKey(columns, start.key));
  for (const column of columns) query = query.orderBy(sql.ref(column));
  query = query.limit(page.limit + 1);
  return start.kind === 'offset' ? query.offset(start.offset) : query;
}

function afterKey(columns: readonly string[], key: readonly string[]): Expression<SqlBool> {
  const [column, ...rest] = columns;
  const value = key[0] ?? '';
  const after = sql<SqlBool>`${sql.ref(column!)} > ${value}`;
  if (rest.length === 0) return after;
  return sql<SqlBool>`(${after} or (${sql.ref(column!)} = ${value} and ${afterKey(rest, key.slice(1))}))`;
}

/** The directory's read models of one account over Kysely; every statement names the bound account. */
export class KyselyDirectoryViews implements DirectoryViews {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly accountId: string,
  ) {}

  async userPage(
    page: PageRequest,
    options: { active?: boolean | undefined; maxBytes: number },
  ): Promise<Slice<UserRow>> {
    const { maxBytes } = options;
    // The page's documents are read only while they fit the byte budget: sizes first,
    // large documents only for kept rows.
    const inline = Math.floor(maxBytes / (page.limit + 1));
    const size = this.dialect.documentBytes(sql`data`) as RawBuilder<number>;
    let query = this.db
      .selectFrom('users')
      .select([
        'id',
        'account_id',
        'user_name',
        'user_name_lc',
        'external_id',
        'display_name',
        'active',
        'manager_id',
        'created_at',
        'updated_at',
        'version',
        sql<string | null>`CASE WHEN ${size} <= ${inline} THEN data END`.as('data'),
        size.as('data_size'),
      ])
      .where('account_id', '=', this.accountId);
    if (options.active !== undefined) query = query.where('active', '=', options.active ? 1 : 0);
    query = keysetPage(query, page, ['created_at', 'id']);
    const fetched = await query.execute();
    let used = 0;
    let fit = Math.min(fetched.length, page.limit);
    for (let i = 0; i < fit; i++) {
      used += Number(fetched[i]!.data_size) + 512;
      if (used > maxBytes && i > 0) fit = i;
    }
    // Cut short: the row after the last kept one makes the slice hand out a next key.
    const rows = fetched.slice(0, fit < page.limit ? fit + 1 : fetched.length);
    const limit = Math.min(page.limit, fit);
    const missing = rows.slice(0, limit).filter((r) => r.data === null);
    if (missing.length > 0) {
      const documents = await this.db
        .selectFrom('users')
        .select(['id', 'data'])
        .where('account_id', '=', this.accountId)
        .where(
          'id',
          'in',
          missing.map((r) => r.id),
        )
        .execute();
      const byId = new Map(documents.map((d) => [d.id, d.data]));
      for (const row of missing) row.data = byId.get(row.id) ?? '{}';
    }
    return sliceOf(
      rows,
      limit,
      (r) => [r.created_at, r.id],
      (r) => toUser({ ...r, data: r.data ?? '{}' }),
    );
  }

  async teamIdsOf(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const teams = new Map<string, string[]>();
    if (userIds.length === 0) return teams;
    const rows = await this.db
      .selectFrom('group_members')
      .select(['member_id', 'group_id'])
      .where('account_id', '=', this.accountId)
      .where('member_type', '=', 'User')
      .where('member_id', 'in', [...userIds])
      .orderBy('member_id')
      .orderBy('group_id')
      .execute();
    for (const row of rows) {
      const list = teams.get(row.member_id) ?? [];
      list.push(row.group_id);
      teams.set(row.member_id, list);
    }
    return teams;
  }

  async teamPage(page: PageRequest): Promise<Slice<ProductTeam>> {
    const query = keysetPage(this.teams(), page, ['g.display_name_lc', 'g.id']);
    return sliceOf(await query.execute(), page.limit, (r) => [r.display_name_lc, r.id], toTeam);
  }

  async team(id: string): Promise<ProductTeam | undefined> {
    const row = await this.teams().where('g.id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : toTeam(row);
  }

  async memberPage(teamId: string, page: PageRequest): Promise<Slice<TeamMember>> {
    let query = this.db
      .selectFrom('group_members as m')
      .leftJoin('users as u', (join) =>
        join.onRef('u.id', '=', 'm.member_id').onRef('u.account_id', '=', 'm.account_id'),
      )
      .leftJoin('groups as t', (join) =>
        join.onRef('t.id', '=', 'm.member_id').onRef('t.account_id', '=', 'm.account_id'),
      )
      .select([
        'm.member_id',
        'm.member_type',
        'u.display_name as user_display_name',
        'u.user_name',
        't.display_name as team_name',
      ])
      .where('m.account_id', '=', this.accountId)
      .where('m.group_id', '=', teamId);
    query = keysetPage(query, page, ['m.member_id']);
    return sliceOf(
      await query.execute(),
      page.limit,
      (r) => [r.member_id],
      (r): TeamMember =>
        r.member_type === 'Group'
          ? { id: r.member_id, type: 'team', displayName: r.team_name }
          : { id: r.member_id, type: 'user', displayName: r.user_display_name ?? r.user_name },
    );
  }

  async seats(): Promise<{ limit: number | null; used: number } | undefined> {
    const account = await this.db
      .selectFrom('accounts')
      .select('seats')
      .where('id', '=', this.accountId)
      .executeTakeFirst();
    if (account === undefined) return undefined;
    const counted = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', this.accountId)
      .where('active', '=', 1)
      .executeTakeFirstOrThrow();
    return {
      limit: account.seats === null ? null : Number(account.seats),
      used: Number(counted.n),
    };
  }

  async reportsOf(managerId: string, limit: number) {
    const reports = this.db
      .selectFrom('users')
      .where('account_id', '=', this.accountId)
      .where('manager_id', '=', managerId);
    const people = await reports
      .select(['id', 'display_name', 'user_name', 'active'])
      // `|| ''`: sorted after the (account_id, manager_id) lookup. SQLite, which runs without
      // statistics, would otherwise walk the whole display-name index to avoid sorting ten rows.
      .orderBy(sql`display_name || ''`)
      .orderBy('id')
      .limit(limit)
      .execute();
    const counted = await reports
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return {
      people: people.map((r) => ({
        id: r.id,
        displayName: r.display_name ?? r.user_name,
        active: Number(r.active) === 1,
      })),
      count: Number(counted.n),
    };
  }

  async teamsNamed(ids: readonly string[]): Promise<NamedRef[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('groups')
      .select(['id', 'display_name'])
      .where('account_id', '=', this.accountId)
      .where('id', 'in', [...ids])
      .orderBy('display_name_lc')
      .execute();
    return rows.map(toRef);
  }

  async teamRelations(teamId: string, limit: number) {
    // Parents hold the team as a member; sub-teams are its members of type Group.
    const related = (side: 'group_id' | 'member_id', other: 'group_id' | 'member_id') =>
      this.db
        .selectFrom('group_members as m')
        .innerJoin('groups as g', (j) =>
          j.onRef('g.id', '=', `m.${other}`).onRef('g.account_id', '=', 'm.account_id'),
        )
        .select(['g.id', 'g.display_name'])
        .where('m.account_id', '=', this.accountId)
        .where(`m.${side}`, '=', teamId)
        .where('m.member_type', '=', 'Group')
        .orderBy('g.display_name_lc')
        .limit(limit)
        .execute();
    return {
      parents: (await related('member_id', 'group_id')).map(toRef),
      subTeams: (await related('group_id', 'member_id')).map(toRef),
    };
  }

  async resourceNames(ids: readonly string[]): Promise<Map<string, ResourceName>> {
    const names = new Map<string, ResourceName>();
    const unique = [...new Set(ids)];
    if (unique.length === 0) return names;
    for (const u of await this.db
      .selectFrom('users')
      .select(['id', 'user_name', 'active'])
      .where('account_id', '=', this.accountId)
      .where('id', 'in', unique)
      .execute())
      names.set(u.id, { type: 'user', name: u.user_name, active: Number(u.active) === 1 });
    for (const g of await this.db
      .selectFrom('groups')
      .select(['id', 'display_name'])
      .where('account_id', '=', this.accountId)
      .where('id', 'in', unique)
      .execute())
      names.set(g.id, { type: 'team', name: g.display_name });
    return names;
  }

  async eventsOf(resourceId: string, options: EventsQuery): Promise<ResourceEvent[]> {
    await this.dialect.sequenceEvents(this.db, this.accountId);
    let query = this.events().where('resource_id', '=', resourceId);
    if (options.resourceType !== undefined)
      query = query.where('resource_type', '=', options.resourceType);
    if (options.until !== undefined) query = query.where('occurred_at', '<=', options.until);
    if (options.at !== undefined) query = query.where('occurred_at', '=', options.at);
    const rows = await query
      .orderBy('seq', options.oldestFirst === true ? 'asc' : 'desc')
      .limit(options.limit)
      .execute();
    return rows.map(toEvent);
  }

  async membershipEventsOf(memberId: string, limit: number): Promise<ResourceEvent[]> {
    await this.dialect.sequenceEvents(this.db, this.accountId);
    const rows = await this.events()
      .where('type', 'in', ['team.member_added', 'team.member_removed'])
      .where('data', 'like', `%${memberId}%`)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  /**
   * The account's numbered events. Callers number what is committed first
   * (`sequenceEvents`); an event committed since keeps its provisional negative number
   * (PostgreSQL) and is left out until it has its own.
   */
  private events() {
    return this.db
      .selectFrom('events')
      .select(['seq', 'type', 'occurred_at', 'data', 'resource_id'])
      .where('account_id', '=', this.accountId)
      .where('seq', '>', 0);
  }

  private teams() {
    return this.db
      .selectFrom('groups as g')
      .select((eb) => [
        'g.id',
        'g.display_name',
        'g.display_name_lc',
        'g.external_id',
        'g.origin',
        'g.deactivated',
        'g.created_at',
        'g.updated_at',
        eb
          .selectFrom('group_members as m')
          .select(eb.fn.countAll<number>().as('n'))
          .whereRef('m.group_id', '=', 'g.id')
          .where('m.account_id', '=', this.accountId)
          .as('member_count'),
      ])
      .where('g.account_id', '=', this.accountId);
  }
}

function toRef(row: { id: string; display_name: string }): NamedRef {
  return { id: row.id, displayName: row.display_name };
}

function toEvent(row: {
  seq: number;
  type: string;
  occurred_at: string;
  data: string;
  resource_id: string;
}): ResourceEvent {
  return {
    seq: Number(row.seq),
    type: row.type,
    at: row.occurred_at,
    resourceId: row.resource_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}

function toTeam(row: {
  id: string;
  display_name: string;
  external_id: string | null;
  origin: string;
  deactivated: number;
  created_at: string;
  updated_at: string;
  member_count: number | null;
}): ProductTeam {
  return {
    id: row.id,
    displayName: row.display_name,
    externalId: row.external_id,
    origin: row.origin === 'department' || row.origin === 'manager' ? row.origin : 'scim',
    deactivated: Number(row.deactivated) === 1,
    memberCount: Number(row.member_count ?? 0),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
