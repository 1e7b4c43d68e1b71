import type { TypedFilter } from '../core/filter/typed.js';
import type { JsonObject } from '../core/resource/values.js';
import type { ResolvedPath } from '../core/schemas/resolve.js';
import type { AccountState, WorkspaceStore } from './workspace/ports.js';

/**
 * What the use cases need from storage, for one account at a time
 * (ARCHITECTURE convention 5: storage is obtained per account and every query
 * is scoped to it). Implemented once with Kysely for SQLite and PostgreSQL.
 */
export interface UserRow {
  readonly id: string;
  readonly userName: string;
  readonly externalId: string | null;
  readonly displayName: string | null;
  readonly active: boolean;
  readonly managerId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
  readonly data: JsonObject;
  /** Read with the row when asked (`getUser` with `related`): the user's SCIM teams. */
  readonly groups?: readonly MemberRow[];
  /** Read with the row when asked: the manager's displayName (else userName); null when unknown. */
  readonly managerName?: string | null;
  /**
   * The stored document as JSON text, on rows of an unfiltered list page read with it as
   * text: `data` is then parsed from it when first read, and a renderer may copy from
   * the text instead (renderUserText).
   */
  readonly text?: string;
}

/**
 * Row lock a read takes for the rest of the transaction (PostgreSQL; SQLite serialises
 * writes anyway). `update` before a delete; `noKeyUpdate` before an update (it does not
 * wait for transactions that only reference the row); `keyShare` keeps the row from
 * being deleted while memberships naming it are written.
 */
export type RowLock = 'update' | 'noKeyUpdate' | 'keyShare';

/**
 * A member change announced to openGroupChange: `add` the users `ids` (as
 * insertUserMembers(groupId, ids, at) adds them), or `remove` the memberships `ids` (as
 * deleteMembers(groupId, ids)); `ids` without repeats, in request order.
 */
export type MemberChangeAhead =
  | { readonly kind: 'add'; readonly ids: readonly string[]; readonly at: string }
  | { readonly kind: 'remove'; readonly ids: readonly string[] };

/** What AccountStore.memberChangeAtOnce did: the team's version as read, the members changed. */
export interface MemberChangeDone {
  readonly version: number;
  readonly changed: readonly { readonly id: string; readonly type: 'User' | 'Group' }[];
}

export interface GetOptions {
  /** Same as `lock: 'update'`. */
  readonly forUpdate?: boolean;
  readonly lock?: RowLock;
}

export interface GroupRow {
  readonly id: string;
  readonly displayName: string;
  readonly externalId: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
  readonly data: JsonObject;
}

export interface EmailRow {
  readonly value: string;
  readonly type: string | null;
  readonly primary: boolean;
}

export interface MemberRow {
  readonly value: string;
  readonly type: 'User' | 'Group';
  readonly display: string | null;
}

export interface ListQuery {
  readonly filter?: TypedFilter;
  readonly sortBy?: ResolvedPath;
  readonly descending: boolean;
  /** 0-based offset. */
  readonly offset: number;
  readonly limit: number;
  /**
   * Most bytes of stored documents the page may hold: rows past it are left out (always
   * at least one row is returned), and large documents are read only for kept rows.
   */
  readonly maxBytes?: number;
  /** Users: also each user's SCIM teams and manager's name, in the page's statement. */
  readonly related?: boolean;
}

export interface Page<T> {
  readonly total: number;
  readonly rows: readonly T[];
}

export interface NewUser extends Omit<UserRow, 'version'> {
  readonly emails: readonly EmailRow[];
  readonly passwordHash: string | null;
}

export interface UserUpdate extends Omit<UserRow, 'createdAt'> {
  readonly emails: readonly EmailRow[];
  /** undefined keeps the stored hash. */
  readonly passwordHash?: string | null;
}

export interface AccountStore {
  readonly accountId: string;
  /** Workspace rules' storage (seats, events, team mapping) on the same connection or transaction. */
  readonly workspace: WorkspaceStore;
  /** Runs `work` in one transaction; everything it does commits together or not at all. */
  transaction<T>(work: (store: AccountStore) => Promise<T>): Promise<T>;

  /**
   * The start of a write of an existing user, in a transaction: the account, as
   * `workspace.readAccount` reads (and locks) it, and the user, as getUser reads it with
   * `options`. On PostgreSQL one statement for an account that does not map teams.
   */
  openUserChange(
    id: string,
    options?: GetOptions & { related?: boolean },
  ): Promise<{ account: AccountState; row: UserRow | undefined }>;
  /**
   * A member change of one SCIM team, as a member-only PATCH without If-Match makes it
   * (the team read FOR KEY SHARE, the members added or removed, the team's version
   * counted and one member event per member changed when any did), made and committed on
   * its own, outside any transaction, where the store can do it in one statement
   * (PostgreSQL, for an account known not to map teams). Undefined when it did nothing
   * and the caller must make the change itself: not supported here, the team missing or
   * not a SCIM team of the account, an id to add that is not a user of the account.
   * `at`: the time of the change (memberships, events, the team's lastModified).
   */
  memberChangeAtOnce?(
    groupId: string,
    change: MemberChangeAhead,
    at: string,
  ): Promise<MemberChangeDone | undefined>;
  /**
   * openUserChange for a team (as getGroup reads it). `ahead`: the member change the
   * caller makes next in this transaction, if the team is there; the store may run it
   * with the read (on PostgreSQL in the same round trip), and answers the caller's
   * insertUserMembers / deleteMembers of exactly that change from it. The caller must
   * then make that change, or end the transaction by throwing: a transaction that ends
   * with an announced change not made, or makes another member change of the team
   * first, fails (and rolls back).
   */
  openGroupChange(
    id: string,
    options?: GetOptions,
    ahead?: MemberChangeAhead,
  ): Promise<{ account: AccountState; row: GroupRow | undefined }>;
  /** `related`: also the user's SCIM teams and manager's name, in the same statement. */
  getUser(id: string, options?: GetOptions & { related?: boolean }): Promise<UserRow | undefined>;
  listUsers(query: ListQuery): Promise<Page<UserRow>>;
  insertUser(user: NewUser): Promise<void>;
  /**
   * Writes the user if its stored version is still `expectedVersion`; false otherwise.
   * `settled`: the caller holds the user's row lock in this transaction, read at
   * `expectedVersion`, and the userName is unchanged (case-insensitively), so the write
   * can neither miss the version nor break the unique userName: it answers true at once,
   * and PostgreSQL may send it with the transaction's next statement or COMMIT (pg-fold.ts)
   * instead of a round trip of its own.
   */
  updateUser(user: UserUpdate, expectedVersion: number, settled?: boolean): Promise<boolean>;
  deleteUser(id: string): Promise<boolean>;
  /**
   * The user a sign-in names, tried in this order: `externalId` (exact), `userName`
   * (case-insensitively), then a user holding the e-mail address (case-insensitively;
   * the oldest when several do). Undefined when none matches.
   */
  findUserForSignIn(keys: {
    externalId?: string;
    userName?: string;
    email?: string;
  }): Promise<UserRow | undefined>;
  /** The identity provider's teams (SCIM groups) whose displayName or externalId is one of `names`, case-insensitively. */
  teamsNamed(names: readonly string[]): Promise<{ id: string }[]>;
  /** displayName (or userName) of these users, for manager.displayName and member display. */
  userNames(ids: readonly string[]): Promise<Map<string, string>>;
  /** Teams each user belongs to directly. */
  groupsOfUsers(ids: readonly string[]): Promise<Map<string, MemberRow[]>>;

  getGroup(id: string, options?: GetOptions): Promise<GroupRow | undefined>;
  listGroups(query: ListQuery): Promise<Page<GroupRow>>;
  /** Direct members of each group, by group id (groups without members are absent). */
  memberCounts(groupIds: readonly string[]): Promise<Map<string, number>>;
  insertGroup(group: Omit<GroupRow, 'version'>): Promise<void>;
  updateGroup(group: Omit<GroupRow, 'createdAt'>, expectedVersion: number): Promise<boolean>;
  deleteGroup(id: string): Promise<boolean>;
  members(groupIds: readonly string[]): Promise<Map<string, MemberRow[]>>;
  /** Which of these ids are users or groups of the account. */
  resolveMemberIds(ids: readonly string[]): Promise<Map<string, 'User' | 'Group'>>;
  /**
   * `resolveMemberIds(ids)` (ids without repeats) and, when every id is a user of the
   * account, `insertMembers` of them as users, as one change: `added` is then the rows
   * inserted, in the order of `ids`; otherwise nothing is inserted and `added` is
   * undefined (an unknown id, or a team, which needs the cycle check first). On
   * PostgreSQL one statement.
   */
  insertUserMembers(
    groupId: string,
    ids: readonly string[],
    at: string,
  ): Promise<{
    known: Map<string, 'User' | 'Group'>;
    added: { id: string; type: 'User' | 'Group' }[] | undefined;
  }>;
  addMembers(
    groupId: string,
    members: readonly { id: string; type: 'User' | 'Group' }[],
    at: string,
  ): Promise<number>;
  removeMembers(groupId: string, ids: readonly string[]): Promise<number>;
  removeAllMembers(groupId: string): Promise<number>;
  /**
   * Inserts the memberships not already there into a team of this account; returns
   * those inserted (none when the team is not the account's).
   */
  insertMembers(
    groupId: string,
    members: readonly { id: string; type: 'User' | 'Group' }[],
    at: string,
  ): Promise<{ id: string; type: 'User' | 'Group' }[]>;
  /** Deletes these memberships (all of the team's when `ids` is omitted); returns those deleted. */
  deleteMembers(
    groupId: string,
    ids?: readonly string[],
  ): Promise<{ id: string; type: 'User' | 'Group' }[]>;
  /**
   * A new version of the team (its members changed): version + 1, lastModified `at`, for a
   * caller that holds KEY SHARE on the team (or more): once committed, the team is at the
   * version it read + 1 or later (later when other member changes of it commit meanwhile).
   * On PostgreSQL the change is counted apart from the team row
   * (SqlDialect.teamVersionShards), sent with the transaction's next statement.
   */
  countGroupChange(id: string, at: string): Promise<void>;
  /** Current memberships of a team among `ids` (all of them when omitted), with the member type. */
  memberTypes(groupId: string, ids?: readonly string[]): Promise<Map<string, 'User' | 'Group'>>;
  /** Removes a user or group from every team it is a member of. */
  removeFromAllGroups(memberId: string): Promise<void>;
}
