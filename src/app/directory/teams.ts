import type { Kysely } from 'kysely';
import type { Database } from '../../storage/db-schema.js';
import { AppError } from '../errors.js';
import { toPage, type Page, type PageRequest } from './paging.js';

/** A team (a SCIM group, or a team built by team mapping) as the workspace product sees it. */
export interface ProductTeam {
  id: string;
  displayName: string;
  externalId: string | null;
  /** Who made the team: the identity provider (scim), or team mapping (department, manager). */
  origin: 'scim' | 'department' | 'manager';
  /** A mapped team without live members. */
  deactivated: boolean;
  /** Direct members (users and teams). */
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface TeamMember {
  id: string;
  type: 'user' | 'team';
  /** The user's displayName (else userName) or the team's name; null if it no longer exists. */
  displayName: string | null;
}

export async function listProductTeams(
  db: Kysely<Database>,
  accountId: string,
  page: PageRequest,
): Promise<Page<ProductTeam>> {
  let query = teamQuery(db, accountId);
  const start = page.start;
  if (start.kind === 'cursor') {
    const [name = '', id = ''] = start.key;
    query = query.where((eb) =>
      eb.or([
        eb('g.display_name_lc', '>', name),
        eb.and([eb('g.display_name_lc', '=', name), eb('g.id', '>', id)]),
      ]),
    );
  }
  query = query
    .orderBy('g.display_name_lc')
    .orderBy('g.id')
    .limit(page.limit + 1);
  if (start.kind === 'offset') query = query.offset(start.offset);
  const rows = await query.execute();
  return toPage(
    rows,
    page.limit,
    (r) => [r.display_name_lc, r.id],
    (kept) => kept.map(toProductTeam),
  );
}

export async function getProductTeam(
  db: Kysely<Database>,
  accountId: string,
  id: string,
): Promise<ProductTeam> {
  const row = await teamQuery(db, accountId).where('g.id', '=', id).executeTakeFirst();
  if (row === undefined) throw new AppError('not_found', `no team ${id} in this account`);
  return toProductTeam(row);
}

/** A team's direct members, by id. */
export async function listTeamMembers(
  db: Kysely<Database>,
  accountId: string,
  teamId: string,
  page: PageRequest,
): Promise<Page<TeamMember>> {
  await getProductTeam(db, accountId, teamId);
  let query = db
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
    .where('m.account_id', '=', accountId)
    .where('m.group_id', '=', teamId);
  const start = page.start;
  if (start.kind === 'cursor') query = query.where('m.member_id', '>', start.key[0] ?? '');
  query = query.orderBy('m.member_id').limit(page.limit + 1);
  if (start.kind === 'offset') query = query.offset(start.offset);
  const rows = await query.execute();
  return toPage(
    rows,
    page.limit,
    (r) => [r.member_id],
    (kept) =>
      kept.map((r) =>
        r.member_type === 'Group'
          ? { id: r.member_id, type: 'team' as const, displayName: r.team_name }
          : {
              id: r.member_id,
              type: 'user' as const,
              displayName: r.user_display_name ?? r.user_name,
            },
      ),
  );
}

function teamQuery(db: Kysely<Database>, accountId: string) {
  return db
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
        .where('m.account_id', '=', accountId)
        .as('member_count'),
    ])
    .where('g.account_id', '=', accountId);
}

function toProductTeam(row: {
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
