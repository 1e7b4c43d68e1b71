import { AppError } from '../errors.js';
import type { AccountStores } from '../stores.js';
import { pageFrom, type Page, type PageRequest } from './paging.js';

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
  stores: AccountStores,
  page: PageRequest,
): Promise<Page<ProductTeam>> {
  return pageFrom(await stores.views.teamPage(page), (rows) => rows);
}

export async function getProductTeam(stores: AccountStores, id: string): Promise<ProductTeam> {
  const team = await stores.views.team(id);
  if (team === undefined) throw new AppError('not_found', `no team ${id} in this account`);
  return team;
}

/** A team's direct members, by id. */
export async function listTeamMembers(
  stores: AccountStores,
  teamId: string,
  page: PageRequest,
): Promise<Page<TeamMember>> {
  await getProductTeam(stores, teamId);
  return pageFrom(await stores.views.memberPage(teamId, page), (rows) => rows);
}
