import type { UserRow } from '../ports.js';
import type { PageRequest } from './paging.js';
import type { ProductTeam, TeamMember } from './teams.js';

/**
 * A page of rows read for a list: `nextKey`, the sort key of its last row, continues it
 * (the API hands it out as an opaque cursor); null at the end.
 */
export interface Slice<T> {
  readonly rows: T[];
  readonly nextKey: readonly string[] | null;
}

/** A user's or team's name for a list of changes: a user's userName, a team's displayName. */
export interface ResourceName {
  readonly type: 'user' | 'team';
  readonly name: string;
  /** Users only. */
  readonly active?: boolean;
}

/** A team or person named in a view. */
export interface NamedRef {
  readonly id: string;
  readonly displayName: string;
}

/** An event of the account's event log, its data parsed. */
export interface ResourceEvent {
  readonly seq: number;
  readonly type: string;
  /** occurred_at. */
  readonly at: string;
  readonly resourceId: string;
  readonly data: Record<string, unknown>;
}

/** Which events of one user or team to read. */
export interface EventsQuery {
  readonly resourceType?: 'user' | 'team';
  /** Occurred on or before this ISO time. */
  readonly until?: string;
  /** Occurred exactly at this ISO time (the events of one transaction). */
  readonly at?: string;
  readonly limit: number;
  /** Oldest first; newest first otherwise. */
  readonly oldestFirst?: boolean;
}

/**
 * The directory's read models of one account (`AccountStores.views`): the REST API's
 * users and teams, the console's user and team pages, seats, and the event history
 * behind them. Every read is scoped to the bound account.
 */
export interface DirectoryViews {
  /**
   * Users in creation order (created_at, id), optionally only active or deactivated ones.
   * The page holds at most `maxBytes` of stored documents (always at least one user);
   * a page cut short still has a `nextKey`.
   */
  userPage(
    page: PageRequest,
    options: { active?: boolean | undefined; maxBytes: number },
  ): Promise<Slice<UserRow>>;
  /** Ids of the teams (of any origin) each user is a direct member of, by team id. */
  teamIdsOf(userIds: readonly string[]): Promise<Map<string, string[]>>;
  /** Teams by name (display_name_lc, id), with member counts. */
  teamPage(page: PageRequest): Promise<Slice<ProductTeam>>;
  team(id: string): Promise<ProductTeam | undefined>;
  /** A team's direct members by id; the name is null for a member that no longer exists. */
  memberPage(teamId: string, page: PageRequest): Promise<Slice<TeamMember>>;
  /** The account's seat limit (null: unlimited) and active users; undefined when the account does not exist. */
  seats(): Promise<{ limit: number | null; used: number } | undefined>;
  /** Users whose manager is `managerId` (by displayName, at most `limit`), and how many there are. */
  reportsOf(
    managerId: string,
    limit: number,
  ): Promise<{ people: (NamedRef & { active: boolean })[]; count: number }>;
  /** These teams, by name. */
  teamsNamed(ids: readonly string[]): Promise<NamedRef[]>;
  /** Teams holding this team as a member, and teams that are its members; by name, at most `limit` each. */
  teamRelations(
    teamId: string,
    limit: number,
  ): Promise<{ parents: NamedRef[]; subTeams: NamedRef[] }>;
  /** Names of these users and teams (ids that are neither are absent). */
  resourceNames(ids: readonly string[]): Promise<Map<string, ResourceName>>;
  /**
   * Events of one user or team, newest first (oldest first with `oldestFirst`): only
   * those of `resourceType`, occurred `until` (inclusive) or exactly `at`, when given.
   */
  eventsOf(resourceId: string, options: EventsQuery): Promise<ResourceEvent[]>;
  /** Member-added and member-removed events of any team that name this member, newest first. */
  membershipEventsOf(memberId: string, limit: number): Promise<ResourceEvent[]>;
}
