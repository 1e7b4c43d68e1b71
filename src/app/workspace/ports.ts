import type { NewEvent } from '../events/types.js';
import type { AccountSettings } from './settings.js';

export type TeamOrigin = 'scim' | 'department' | 'manager';
export type MembershipSource = TeamOrigin;

export interface MappedTeam {
  readonly id: string;
  readonly displayName: string;
  readonly baseName: string;
  readonly deactivated: boolean;
}

export interface ReportRow {
  readonly id: string;
  readonly userName: string;
  readonly displayName: string | null;
  readonly managerId: string | null;
  readonly active: boolean;
}

/** What a write reads of its account first: its seat limit and team-mapping settings. */
export interface AccountState {
  readonly seats: number | null;
  readonly settings: AccountSettings;
}

/**
 * What the workspace rules need from storage, in the caller's transaction
 * (the same connection as the AccountStore that hands it out).
 */
export interface WorkspaceStore {
  /**
   * The account's seat limit and team-mapping settings. An account that maps teams
   * (department or manager teams) is also locked for the rest of the transaction
   * (PostgreSQL), since mapping finds and creates teams by name: its writes are
   * serialised. Other writes take the account lock only at their end (`lockAccount`
   * for a seat check, then `appendEvents`). Call first.
   */
  readAccount(): Promise<AccountState>;
  /** Locks the account row until the transaction ends (PostgreSQL), for the seat check. */
  lockAccount(): Promise<void>;
  countActiveUsers(excludingId: string): Promise<number>;
  /** Ends every product (SSO) session of this user: deactivation signs them out everywhere. */
  endUserSessions(userId: string): Promise<void>;
  /** The transaction's events, with the next sequence numbers; locks the account row until COMMIT: call last. */
  appendEvents(events: readonly NewEvent[], at: string): Promise<void>;
  /** Users whose manager is this user. */
  reportsOf(managerId: string): Promise<ReportRow[]>;
  user(id: string): Promise<ReportRow | undefined>;
  /** Clears `manager` on every user managed by `managerId`; returns their ids. */
  clearManagerOf(managerId: string, at: string): Promise<string[]>;
  findMappedTeam(origin: Exclude<TeamOrigin, 'scim'>, key: string): Promise<MappedTeam | undefined>;
  createMappedTeam(team: {
    id: string;
    origin: Exclude<TeamOrigin, 'scim'>;
    key: string;
    name: string;
    at: string;
  }): Promise<void>;
  /** A team built by mapping (not pushed by the identity provider) holding this name, case-insensitively. */
  mappedTeamNamed(name: string): Promise<{ id: string } | undefined>;
  /** Whether another team (not `exceptId`) has this name, case-insensitively. */
  isTeamNameTaken(name: string, exceptId?: string): Promise<boolean>;
  /** True when `memberGroupId` already contains `groupId`, directly or through sub-teams (adding it would close a cycle). */
  containsTeam(memberGroupId: string, groupId: string): Promise<boolean>;
  /** Inserts a membership unless one exists; true when inserted. */
  addMembership(
    groupId: string,
    memberId: string,
    type: 'User' | 'Group',
    source: MembershipSource,
    at: string,
  ): Promise<boolean>;
  /** Deletes a membership made by `source`; true when deleted. */
  removeMembership(groupId: string, memberId: string, source: MembershipSource): Promise<boolean>;
  /** Teams this user or team belongs to, with the membership's source. */
  membershipsOf(memberId: string): Promise<{ groupId: string; source: MembershipSource }[]>;
  /** Active users plus live (not deactivated) sub-teams among a team's members. */
  liveMemberCount(groupId: string): Promise<number>;
  /** Origin of a team, or undefined when it does not exist. */
  teamOrigin(
    groupId: string,
  ): Promise<
    | { origin: TeamOrigin; baseName: string | null; displayName: string; deactivated: boolean }
    | undefined
  >;
  setTeamState(
    groupId: string,
    state: { displayName: string; deactivated: boolean; at: string; baseName?: string },
  ): Promise<void>;
}
