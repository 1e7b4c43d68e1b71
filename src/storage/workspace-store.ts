import { sql, type Kysely, type Transaction } from 'kysely';
import type { NewEvent } from '../app/events/types.js';
import type {
  AccountState,
  MappedTeam,
  MembershipSource,
  ReportRow,
  TeamOrigin,
  WorkspaceStore,
} from '../app/workspace/ports.js';
import { parseSettings } from '../app/workspace/settings.js';
import { isObject, type JsonObject } from '../core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../core/schemas/rfc7643.js';
import type { Database } from './db-schema.js';
import { appendEvents } from './event-log.js';
import { prepared } from './pg-prepared.js';
import { leadsTransaction } from './pg-fold.js';
import type { SqlDialect } from './dialects/dialect.js';

function parseData(data: unknown): JsonObject {
  return (typeof data === 'string' ? JSON.parse(data) : data) as JsonObject;
}

/** The account's state from its row's `seats` and `settings` columns. */
export function accountState(row: { seats: unknown; settings: unknown }): AccountState {
  return {
    seats: row.seats === null ? null : Number(row.seats),
    settings: parseSettings(row.settings as string | null),
  };
}

/** Whether the account maps teams (department or manager teams): its writes lock it first. */
export const mapsTeamsOf = (account: AccountState): boolean =>
  account.settings.departmentTeams || account.settings.managerTeams;

/** Accounts remembered at most (the oldest read is forgotten first). */
const REMEMBERED_ACCOUNTS = 10_000;
/** Whether each account mapped teams when this process last read it (AccountStore.openUserChange). */
const mapping = new Map<string, boolean>();

/** Remembers whether the account maps teams, as just read. */
export function rememberMapping(accountId: string, account: AccountState): void {
  mapping.delete(accountId);
  mapping.set(accountId, mapsTeamsOf(account));
  if (mapping.size > REMEMBERED_ACCOUNTS) mapping.delete(mapping.keys().next().value!);
}

/** Whether the account mapped teams when last read, undefined when not read lately. */
export const mapsTeams = (accountId: string): boolean | undefined => mapping.get(accountId);

/** WorkspaceStore over Kysely; shares the AccountStore's connection or transaction. */
export class KyselyWorkspaceStore implements WorkspaceStore {
  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    private readonly dialect: SqlDialect,
    private readonly accountId: string,
  ) {}

  async readAccount() {
    const read = prepared(
      this.db.selectFrom('accounts').select(['seats', 'settings']).where('id', '=', this.accountId),
    );
    // The first statement of a write transaction: on PostgreSQL sent with its BEGIN (pg-fold.ts).
    leadsTransaction(read.sql);
    const [row] = (await this.db.executeQuery(read)).rows;
    if (row === undefined) throw new Error(`account ${this.accountId} does not exist`);
    const account = accountState(row);
    rememberMapping(this.accountId, account);
    if (mapsTeamsOf(account)) await this.lockAccount();
    return account;
  }

  async lockAccount(): Promise<void> {
    // NO KEY UPDATE, not UPDATE: inserts of the account's users, teams and events hold
    // KEY SHARE on this row (their foreign key), which UPDATE would have to wait out.
    // Writers still exclude each other (NO KEY UPDATE conflicts with itself), as the
    // event sequence's bump does. SQLite: the database has one writer at a time already.
    if (!this.dialect.rowLocks) return;
    await this.db
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', this.accountId)
      .forNoKeyUpdate()
      .execute();
  }

  async countActiveUsers(excludingId: string): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('account_id', '=', this.accountId)
      .where('active', '=', 1)
      .where('id', '<>', excludingId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async endUserSessions(userId: string): Promise<void> {
    await this.db
      .deleteFrom('sso_sessions')
      .where('account_id', '=', this.accountId)
      .where('user_id', '=', userId)
      .execute();
  }

  appendEvents(events: readonly NewEvent[], at: string): Promise<void> {
    return appendEvents(this.db, this.dialect, this.accountId, events, at);
  }

  async reportsOf(managerId: string): Promise<ReportRow[]> {
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'user_name', 'display_name', 'manager_id', 'active'])
      .where('account_id', '=', this.accountId)
      .where('manager_id', '=', managerId)
      .orderBy('id')
      .execute();
    return rows.map(toReport);
  }

  async user(id: string): Promise<ReportRow | undefined> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'user_name', 'display_name', 'manager_id', 'active'])
      .where('account_id', '=', this.accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : toReport(row);
  }

  async clearManagerOf(managerId: string, at: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'data'])
      .where('account_id', '=', this.accountId)
      .where('manager_id', '=', managerId)
      .execute();
    for (const row of rows) {
      const data = parseData(row.data);
      const enterprise = data[ENTERPRISE_USER_SCHEMA_ID];
      if (isObject(enterprise)) {
        delete enterprise['manager'];
        if (Object.keys(enterprise).length === 0) delete data[ENTERPRISE_USER_SCHEMA_ID];
      }
      await this.db
        .updateTable('users')
        .set((eb) => ({
          manager_id: null,
          data: JSON.stringify(data),
          updated_at: at,
          version: eb('version', '+', 1),
        }))
        .where('account_id', '=', this.accountId)
        .where('id', '=', row.id)
        .execute();
    }
    return rows.map((r) => r.id);
  }

  async findMappedTeam(
    origin: Exclude<TeamOrigin, 'scim'>,
    key: string,
  ): Promise<MappedTeam | undefined> {
    const row = await this.db
      .selectFrom('groups')
      .select(['id', 'display_name', 'base_name', 'deactivated'])
      .where('account_id', '=', this.accountId)
      .where('origin', '=', origin)
      .where('origin_key', '=', key)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          id: row.id,
          displayName: row.display_name,
          baseName: row.base_name ?? row.display_name,
          deactivated: Number(row.deactivated) === 1,
        };
  }

  async createMappedTeam(team: {
    id: string;
    origin: Exclude<TeamOrigin, 'scim'>;
    key: string;
    name: string;
    at: string;
  }): Promise<void> {
    await this.db
      .insertInto('groups')
      .values({
        id: team.id,
        account_id: this.accountId,
        display_name: team.name,
        display_name_lc: team.name.toLowerCase(),
        external_id: null,
        created_at: team.at,
        updated_at: team.at,
        version: 1,
        data: JSON.stringify({ displayName: team.name }),
        origin: team.origin,
        origin_key: team.key,
        base_name: team.name,
        deactivated: 0,
      })
      .execute();
  }

  async mappedTeamNamed(name: string): Promise<{ id: string } | undefined> {
    return this.db
      .selectFrom('groups')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('display_name_lc', '=', name.toLowerCase())
      .where('origin', '<>', 'scim')
      .executeTakeFirst();
  }

  async isTeamNameTaken(name: string, exceptId?: string): Promise<boolean> {
    let query = this.db
      .selectFrom('groups')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('display_name_lc', '=', name.toLowerCase());
    if (exceptId !== undefined) query = query.where('id', '<>', exceptId);
    return (await query.executeTakeFirst()) !== undefined;
  }

  async containsTeam(memberGroupId: string, groupId: string): Promise<boolean> {
    if (memberGroupId === groupId) return true;
    // Sub-teams of the would-be member, transitively (UNION stops on cycles already stored).
    const result = await sql<{ id: string }>`
      WITH RECURSIVE below(id) AS (
        SELECT member_id FROM group_members
          WHERE account_id = ${this.accountId} AND group_id = ${memberGroupId} AND member_type = 'Group'
        UNION
        SELECT gm.member_id FROM group_members gm JOIN below ON gm.group_id = below.id
          WHERE gm.account_id = ${this.accountId} AND gm.member_type = 'Group'
      )
      SELECT id FROM below WHERE id = ${groupId} LIMIT 1`.execute(this.db);
    return result.rows.length > 0;
  }

  async addMembership(
    groupId: string,
    memberId: string,
    type: 'User' | 'Group',
    source: MembershipSource,
    at: string,
  ): Promise<boolean> {
    const rows = await this.db
      .insertInto('group_members')
      .values({
        account_id: this.accountId,
        group_id: groupId,
        member_id: memberId,
        member_type: type,
        created_at: at,
        source,
      })
      .onConflict((oc) => oc.columns(['group_id', 'member_id']).doNothing())
      .returning('member_id')
      .execute();
    return rows.length === 1;
  }

  async removeMembership(
    groupId: string,
    memberId: string,
    source: MembershipSource,
  ): Promise<boolean> {
    const rows = await this.db
      .deleteFrom('group_members')
      .where('account_id', '=', this.accountId)
      .where('group_id', '=', groupId)
      .where('member_id', '=', memberId)
      .where('source', '=', source)
      .returning('member_id')
      .execute();
    return rows.length === 1;
  }

  async membershipsOf(memberId: string): Promise<{ groupId: string; source: MembershipSource }[]> {
    const rows = await this.db
      .selectFrom('group_members')
      .select(['group_id', 'source'])
      .where('account_id', '=', this.accountId)
      .where('member_id', '=', memberId)
      .execute();
    return rows.map((r) => ({ groupId: r.group_id, source: r.source as MembershipSource }));
  }

  async liveMemberCount(groupId: string): Promise<number> {
    const row = await this.db
      .selectFrom('group_members as gm')
      .leftJoin('users as u', (join) =>
        join.onRef('u.id', '=', 'gm.member_id').on('u.account_id', '=', this.accountId),
      )
      .select(sql<number>`count(*)`.as('n'))
      .where('gm.account_id', '=', this.accountId)
      .where('gm.group_id', '=', groupId)
      .leftJoin('groups as g', (join) =>
        join.onRef('g.id', '=', 'gm.member_id').on('g.account_id', '=', this.accountId),
      )
      .where((eb) =>
        eb.or([
          eb.and([eb('gm.member_type', '=', 'Group'), eb('g.deactivated', '=', 0)]),
          eb('u.active', '=', 1),
        ]),
      )
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async teamOrigin(groupId: string) {
    const row = await this.db
      .selectFrom('groups')
      .select(['origin', 'base_name', 'display_name', 'deactivated'])
      .where('account_id', '=', this.accountId)
      .where('id', '=', groupId)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          origin: row.origin as TeamOrigin,
          baseName: row.base_name,
          displayName: row.display_name,
          deactivated: Number(row.deactivated) === 1,
        };
  }

  async setTeamState(
    groupId: string,
    state: { displayName: string; deactivated: boolean; at: string; baseName?: string },
  ): Promise<void> {
    const row = await this.db
      .selectFrom('groups')
      .select('data')
      .where('account_id', '=', this.accountId)
      .where('id', '=', groupId)
      .executeTakeFirst();
    if (row === undefined) return;
    const data = { ...parseData(row.data), displayName: state.displayName };
    await this.db
      .updateTable('groups')
      .set((eb) => ({
        display_name: state.displayName,
        display_name_lc: state.displayName.toLowerCase(),
        deactivated: state.deactivated ? 1 : 0,
        ...(state.baseName !== undefined ? { base_name: state.baseName } : {}),
        data: JSON.stringify(data),
        updated_at: state.at,
        version: eb('version', '+', 1),
      }))
      .where('account_id', '=', this.accountId)
      .where('id', '=', groupId)
      .execute();
  }
}

function toReport(row: {
  id: string;
  user_name: string;
  display_name: string | null;
  manager_id: string | null;
  active: number;
}): ReportRow {
  return {
    id: row.id,
    userName: row.user_name,
    displayName: row.display_name,
    managerId: row.manager_id,
    active: Number(row.active) === 1,
  };
}
