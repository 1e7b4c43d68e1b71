import { DEFAULT_REQUEST_LIMITS } from '../limits.js';
import { AppError } from '../errors.js';
import type { UserRow } from '../ports.js';
import type { AccountStores } from '../stores.js';
import { userView } from '../workspace/views.js';
import { pageFrom, type Page, type PageRequest } from './paging.js';

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

/**
 * The account's users, oldest first, optionally only active (or only deactivated) ones.
 * A page holds at most `maxBytes` of stored documents (a page of 200 users of 1 MiB each
 * would be 200 MiB); one cut short continues at the next cursor.
 */
export async function listProductUsers(
  stores: AccountStores,
  page: PageRequest,
  filter: { active?: boolean | undefined } = {},
  options: { maxBytes?: number } = {},
): Promise<Page<ProductUser>> {
  const slice = await stores.views.userPage(page, {
    active: filter.active,
    maxBytes: options.maxBytes ?? DEFAULT_REQUEST_LIMITS.listPageBytes,
  });
  const teams = await stores.views.teamIdsOf(slice.rows.map((r) => r.id));
  return pageFrom(slice, (rows) => rows.map((r) => toProductUser(r, teams.get(r.id) ?? [])));
}

export async function getProductUser(stores: AccountStores, id: string): Promise<ProductUser> {
  return (await findProductUser(stores, id)).user;
}

/** The user with the row it was read from (its SCIM document for the console). */
export async function findProductUser(
  stores: AccountStores,
  id: string,
): Promise<{ user: ProductUser; row: UserRow }> {
  const row = await stores.directory.getUser(id);
  if (row === undefined) throw new AppError('not_found', `no user ${id} in this account`);
  const teams = await stores.views.teamIdsOf([id]);
  return { user: toProductUser(row, teams.get(id) ?? []), row };
}

/** The events' user view (one home: app/workspace/views.ts) plus the user's teams. */
export function toProductUser(row: UserRow, teams: string[]): ProductUser {
  const view = userView(row) as unknown as Omit<ProductUser, 'teams'>;
  const { createdAt, updatedAt, ...rest } = view;
  return { ...rest, teams, createdAt, updatedAt };
}
