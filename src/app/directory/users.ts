import { sql, type Kysely, type Selectable } from 'kysely';
import type { DialectName } from '../../storage/connect.js';
import { DEFAULT_REQUEST_LIMITS } from '../limits.js';
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

type UserRow = Omit<Selectable<UsersTable>, 'display_name_lc'>;

/** The account's users, oldest first, optionally only active (or only deactivated) ones. */
export async function listProductUsers(
  db: Kysely<Database>,
  accountId: string,
  page: PageRequest,
  filter: { active?: boolean | undefined } = {},
  options: { dialect?: DialectName; maxBytes?: number } = {},
): Promise<Page<ProductUser>> {
  const maxBytes = options.maxBytes ?? DEFAULT_REQUEST_LIMITS.listPageBytes;
  // The page's documents are read only while they fit the byte budget (a page of 200
  // users of 1 MiB each would be 200 MiB): sizes first, large documents only for kept rows.
  const inline = Math.floor(maxBytes / (page.limit + 1));
  const size =
    options.dialect === 'postgres'
      ? sql<number>`octet_length(data::text)`
      : sql<number>`octet_length(data)`;
  let query = db
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
    .where('account_id', '=', accountId);
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
  const fetched = await query.execute();
  let used = 0;
  let fit = Math.min(fetched.length, page.limit);
  for (let i = 0; i < fit; i++) {
    used += Number(fetched[i]!.data_size) + 512;
    if (used > maxBytes && i > 0) fit = i;
  }
  // Cut short: the row after the last kept one makes toPage hand out a next cursor.
  const rows = fetched.slice(0, fit < page.limit ? fit + 1 : fetched.length);
  const limit = Math.min(page.limit, fit);
  const missing = rows.slice(0, limit).filter((r) => r.data === null);
  if (missing.length > 0) {
    const documents = await db
      .selectFrom('users')
      .select(['id', 'data'])
      .where('account_id', '=', accountId)
      .where(
        'id',
        'in',
        missing.map((r) => r.id),
      )
      .execute();
    const byId = new Map(documents.map((d) => [d.id, d.data]));
    for (const row of missing) row.data = byId.get(row.id) ?? '{}';
  }
  const kept = rows.slice(0, limit);
  const teams = await teamsOf(
    db,
    accountId,
    kept.map((r) => r.id),
  );
  return toPage(
    rows,
    limit,
    (r) => [r.created_at, r.id],
    (page) =>
      page.map((r) =>
        toProductUser({ ...r, data: r.data ?? '{}', password_hash: null }, teams.get(r.id) ?? []),
      ),
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
