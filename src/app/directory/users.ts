import type { Kysely, Selectable } from 'kysely';
import type { JsonObject } from '../../core/resource/values.js';
import type { Database, UsersTable } from '../../storage/db-schema.js';
import { AppError } from '../errors.js';
import { userView } from '../workspace/views.js';
import { toPage, type Page, type PageRequest } from './paging.js';

/** A user as the workspace product sees it: flat, no SCIM envelope. */
export interface ProductUser {
  id: string;
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  /** The primary e-mail, else the work one, else the first. */
  email: string | null;
  title: string | null;
  department: string | null;
  /** Enterprise `manager.value`; may name a user not (yet) provisioned. */
  managerId: string | null;
  active: boolean;
  /** Ids of the teams the user is a direct member of. */
  teams: string[];
  createdAt: string;
  updatedAt: string;
}

type UserRow = Selectable<UsersTable>;

/** The account's users, oldest first, optionally only active (or only deactivated) ones. */
export async function listProductUsers(
  db: Kysely<Database>,
  accountId: string,
  page: PageRequest,
  filter: { active?: boolean | undefined } = {},
): Promise<Page<ProductUser>> {
  let query = db.selectFrom('users').selectAll().where('account_id', '=', accountId);
  if (filter.active !== undefined) query = query.where('active', '=', filter.active ? 1 : 0);
  const start = page.start;
  if (start.kind === 'cursor') {
    const [createdAt = '', id = ''] = start.key;
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '>', createdAt),
        eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)]),
      ]),
    );
  }
  query = query
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (start.kind === 'offset') query = query.offset(start.offset);
  const rows = await query.execute();
  const kept = rows.slice(0, page.limit);
  const teams = await teamsOf(
    db,
    accountId,
    kept.map((r) => r.id),
  );
  return toPage(
    rows,
    page.limit,
    (r) => [r.created_at, r.id],
    (page) => page.map((r) => toProductUser(r, teams.get(r.id) ?? [])),
  );
}

export async function getProductUser(
  db: Kysely<Database>,
  accountId: string,
  id: string,
): Promise<ProductUser> {
  const row = await db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (row === undefined) throw new AppError('not_found', `no user ${id} in this account`);
  const teams = await teamsOf(db, accountId, [id]);
  return toProductUser(row, teams.get(id) ?? []);
}

async function teamsOf(
  db: Kysely<Database>,
  accountId: string,
  userIds: string[],
): Promise<Map<string, string[]>> {
  const teams = new Map<string, string[]>();
  if (userIds.length === 0) return teams;
  const rows = await db
    .selectFrom('group_members')
    .select(['member_id', 'group_id'])
    .where('account_id', '=', accountId)
    .where('member_type', '=', 'User')
    .where('member_id', 'in', userIds)
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

/** The events' user view (one home: app/workspace/views.ts) plus the user's teams. */
export function toProductUser(row: UserRow, teams: string[]): ProductUser {
  const view = userView({
    id: row.id,
    userName: row.user_name,
    externalId: row.external_id,
    displayName: row.display_name,
    active: Number(row.active) === 1,
    managerId: row.manager_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    data: (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as JsonObject,
  }) as unknown as Omit<ProductUser, 'teams'>;
  const { createdAt, updatedAt, ...rest } = view;
  return { ...rest, teams, createdAt, updatedAt };
}
