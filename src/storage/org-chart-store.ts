import { sql, type Kysely } from 'kysely';
import type { JsonObject } from '../core/resource/values.js';
import type { OrgChartStore, OrgLevelRow, OrgPerson } from '../app/directory/org-chart.js';
import type { PageRequest } from '../app/directory/paging.js';
import type { Slice } from '../app/directory/store.js';
import type { SqlDialect } from './connect.js';
import type { Database } from './db-schema.js';
import { keysetPage, sliceOf } from './directory-views-store.js';

/** The org chart's reads of one account over Kysely; every statement names the bound account. */
export class KyselyOrgChartStore implements OrgChartStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly accountId: string,
  ) {}

  private users(includeInactive: boolean) {
    const query = this.db.selectFrom('users').where('account_id', '=', this.accountId);
    return includeInactive ? query : query.where('active', '=', 1);
  }

  async people(
    page: PageRequest,
    options: { includeInactive: boolean; managerId?: string | undefined },
  ): Promise<Slice<OrgPerson>> {
    let query = this.users(options.includeInactive).select([
      'id',
      'display_name',
      'user_name',
      'manager_id',
    ]);
    if (options.managerId !== undefined) query = query.where('manager_id', '=', options.managerId);
    query = keysetPage(query, page, ['id']);
    return sliceOf(
      await query.execute(),
      page.limit,
      (r) => [r.id],
      (r) => ({ id: r.id, displayName: r.display_name ?? r.user_name, managerId: r.manager_id }),
    );
  }

  async count(options: { includeInactive: boolean }): Promise<number> {
    const row = await this.users(options.includeInactive)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async reportCounts(
    managerIds: readonly string[],
    options: { includeInactive: boolean },
  ): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (managerIds.length === 0) return counts;
    const rows = await this.users(options.includeInactive)
      .select(['manager_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('manager_id', 'in', [...managerIds])
      .groupBy('manager_id')
      .execute();
    for (const row of rows) if (row.manager_id !== null) counts.set(row.manager_id, Number(row.n));
    return counts;
  }

  async activeUser(id: string): Promise<{ id: string; managerId: string | null } | undefined> {
    const row = await this.users(false)
      .select(['id', 'manager_id'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : { id: row.id, managerId: row.manager_id };
  }

  async level(
    parentId: string | null,
    page: { after?: readonly [string, string] | undefined; limit: number; maxRootIds: number },
  ): Promise<{ rows: OrgLevelRow[]; next: [string, string] | null }> {
    const accountId = this.accountId;
    const db = this.db;
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
    // An account without manager data has as many roots as users: above maxRootIds the
    // page is read in one statement instead.
    let rootIds: string[] | undefined;
    if (parentId === null) {
      const dedicated = this.dialect.orgChartRootIds(accountId, page.maxRootIds + 1);
      const found = dedicated
        ? (await dedicated.execute(db)).rows
        : await withManagers()
            .selectFrom(roots.as('root'))
            .select('root.id')
            .limit(page.maxRootIds + 1)
            .execute();
      if (found.length <= page.maxRootIds) rootIds = found.map((r) => r.id);
      if (rootIds?.length === 0) return { rows: [], next: null };
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
      // As for direct reports: read the level by manager, then sort it.
      .orderBy(sql`u.user_name_lc || ''`)
      .orderBy('u.id')
      .limit(page.limit + 1)
      .select('u.user_name_lc')
      .execute();
    const kept = rows.slice(0, page.limit);
    const last = kept.at(-1);
    return {
      rows: kept.map((r) => ({
        id: r.id,
        displayName: r.display_name ?? r.user_name,
        data: (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as JsonObject,
        reportCount: Number(r.report_count ?? 0),
      })),
      next: rows.length > page.limit && last !== undefined ? [last.user_name_lc, last.id] : null,
    };
  }
}
