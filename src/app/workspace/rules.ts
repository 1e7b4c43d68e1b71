import { createHash, randomUUID } from 'node:crypto';
import { DomainError } from '../../core/errors.js';
import { isObject } from '../../core/resource/values.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../../core/schemas/rfc7643.js';
import type { NewEvent } from '../events/types.js';
import type { AccountStore, GroupRow, UserRow } from '../ports.js';
import type { AccountState, WorkspaceStore } from './ports.js';
import type { AccountSettings } from './settings.js';
import { teamView, userView } from './views.js';

export const DEACTIVATED_SUFFIX = ' (deactivated)';

/** Longest team name mapping derives from a department (indexed columns are capped at 512). */
const MAX_MAPPED_NAME = 200;

/** The mapping key of a department: its lower-case text, or a digest of it when long. */
function departmentKey(department: string): string {
  const folded = department.toLowerCase();
  return folded.length <= MAX_MAPPED_NAME
    ? folded
    : `sha256:${createHash('sha256').update(folded).digest('hex')}`;
}

function departmentTeamName(department: string): string {
  return department.length <= MAX_MAPPED_NAME
    ? department
    : `${department.slice(0, MAX_MAPPED_NAME)}…`;
}

function departmentOf(row: UserRow | undefined): string | null {
  if (row === undefined) return null;
  const enterprise = row.data[ENTERPRISE_USER_SCHEMA_ID];
  const value = isObject(enterprise) ? enterprise['department'] : undefined;
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function nameOf(user: { displayName: string | null; userName: string }): string {
  return user.displayName ?? user.userName;
}

/**
 * What the workspace does when the identity provider changes the directory,
 * inside the transaction of that change: seats, team mapping, the
 * " (deactivated)" rule for teams Roster created, and the events of it all.
 * Create one per write transaction with `begin`, call the hooks, then `commit`.
 */
export class WorkspaceRules {
  private readonly events: NewEvent[] = [];
  private readonly touched = new Set<string>();
  /** Who is making the change, said in `user.created` events: the identity provider over SCIM, or a sign-in (SSO). */
  source: 'scim' | 'sso' = 'scim';
  /** Teams of the identity provider (SCIM groups): never renamed by the rules, so never settled. */
  private readonly scimTeams = new Set<string>();
  /** Users made active by this transaction: each needs a seat, checked at commit. */
  private readonly seatClaims: string[] = [];

  private constructor(
    private readonly accounts: AccountStore,
    private readonly store: WorkspaceStore,
    private readonly seats: number | null,
    private readonly settings: AccountSettings,
    readonly at: string,
  ) {}

  /**
   * Reads the account's seat limit and settings (an account that maps teams is locked
   * here for the whole transaction; others only in `commit`).
   */
  static async begin(tx: AccountStore, at = new Date().toISOString()): Promise<WorkspaceRules> {
    return WorkspaceRules.opened(tx, await tx.workspace.readAccount(), at);
  }

  /** Rules of a transaction that read its account already (AccountStore.openUserChange). */
  static opened(tx: AccountStore, account: AccountState, at = new Date().toISOString()) {
    return new WorkspaceRules(tx, tx.workspace, account.seats, account.settings, at);
  }

  /**
   * Settles team names, checks seats and appends the events; the caller's transaction
   * commits them with the change. The account row is locked from the seat check (or the
   * events' sequence) to COMMIT: the count of active users then sees every write of the
   * account committed before, and no other can commit in between.
   */
  async commit(): Promise<void> {
    for (const teamId of this.touched)
      if (!this.scimTeams.has(teamId)) await this.settleTeam(teamId);
    if (this.seats !== null && this.seatClaims.length > 0) {
      await this.store.lockAccount();
      for (const userId of this.seatClaims) await this.checkSeat(userId, this.seats);
    }
    await this.store.appendEvents(this.events, this.at);
  }

  /** A team of the identity provider (a SCIM group): member changes never rename it. */
  scimTeam(teamId: string): void {
    this.scimTeams.add(teamId);
  }

  // Users -------------------------------------------------------------------

  async userCreated(user: UserRow): Promise<void> {
    if (user.active) this.claimSeat(user.id);
    this.events.push({
      type: 'user.created',
      resourceType: 'user',
      resourceId: user.id,
      data: { user: userView(user), source: this.source },
    });
    await this.mapUser(undefined, user);
    if (this.settings.managerTeams) {
      // Reports provisioned before their manager (Entra sends managers in any order).
      const reports = await this.store.reportsOf(user.id);
      if (reports.length > 0) {
        const team = await this.managerTeam(user.id);
        if (team !== undefined)
          for (const report of reports) await this.joinManagerTeam(team, report.id);
      }
    }
  }

  async userChanged(before: UserRow, after: UserRow, changed: readonly string[]): Promise<void> {
    if (!before.active && after.active) {
      this.claimSeat(after.id);
      this.events.push({
        type: 'user.reactivated',
        resourceType: 'user',
        resourceId: after.id,
        data: { user: userView(after) },
      });
    } else if (before.active && !after.active) {
      // A deactivated person is signed out of the product at once, not when a session expires.
      await this.store.endUserSessions(after.id);
      this.events.push({
        type: 'user.deactivated',
        resourceType: 'user',
        resourceId: after.id,
        data: { user: userView(after) },
      });
    }
    const others = changed.filter((name) => name !== 'active');
    if (others.length > 0) {
      this.events.push({
        type: 'user.updated',
        resourceType: 'user',
        resourceId: after.id,
        data: { user: userView(after), changed: [...others] },
      });
    }
    if (before.active !== after.active) {
      // Active members decide whether a mapped team is live.
      for (const membership of await this.store.membershipsOf(after.id))
        this.touched.add(membership.groupId);
    }
    await this.mapUser(before, after);
  }

  /** Before the user row is deleted: memberships go, reports lose their manager. */
  async userDeleting(user: UserRow): Promise<void> {
    for (const membership of await this.store.membershipsOf(user.id)) {
      this.events.push(memberEvent('team.member_removed', membership.groupId, user.id, 'User'));
      this.touched.add(membership.groupId);
    }
    for (const reportId of await this.store.clearManagerOf(user.id, this.at)) {
      const report = await this.accounts.getUser(reportId);
      if (report !== undefined) {
        this.events.push({
          type: 'user.updated',
          resourceType: 'user',
          resourceId: reportId,
          data: { user: userView(report), changed: ['manager'] },
        });
      }
      if (this.settings.managerTeams) await this.leaveManagerTeam(user.id, reportId);
    }
    if (this.settings.managerTeams) {
      const own = await this.store.findMappedTeam('manager', user.id);
      if (own !== undefined) {
        for (const membership of await this.store.membershipsOf(own.id)) {
          if (await this.store.removeMembership(membership.groupId, own.id, 'manager')) {
            this.events.push(
              memberEvent('team.member_removed', membership.groupId, own.id, 'Group'),
            );
            this.touched.add(membership.groupId);
          }
        }
        this.touched.add(own.id);
      }
    }
    this.events.push({
      type: 'user.deleted',
      resourceType: 'user',
      resourceId: user.id,
      data: { user: userView(user) },
    });
  }

  // Teams (SCIM groups) -----------------------------------------------------

  /**
   * The identity provider's groups own their names: a team built by mapping that
   * holds the name a SCIM create or rename wants moves aside to a numbered name
   * ("Sales (2)") in the same transaction, so the provider never gets a 409 for a
   * team it cannot see (mapped teams are not SCIM resources).
   */
  async makeRoomFor(name: string): Promise<void> {
    const holder = await this.store.mappedTeamNamed(name);
    if (holder === undefined) return;
    const team = await this.store.teamOrigin(holder.id);
    if (team === undefined) return;
    const moved = await this.freeName(team.displayName, holder.id, true);
    await this.store.setTeamState(holder.id, {
      displayName: moved,
      deactivated: team.deactivated,
      at: this.at,
    });
    this.renamed(holder.id, team.displayName, moved, team.deactivated);
  }

  teamCreated(team: GroupRow): void {
    this.events.push({
      type: 'team.created',
      resourceType: 'team',
      resourceId: team.id,
      data: { team: teamView(team) },
    });
  }

  teamChanged(before: GroupRow, after: GroupRow, changed: readonly string[]): void {
    if (before.displayName !== after.displayName) {
      this.events.push({
        type: 'team.renamed',
        resourceType: 'team',
        resourceId: after.id,
        data: { team: teamView(after), previousName: before.displayName },
      });
    }
    const others = changed.filter((name) => name !== 'displayName' && name !== 'members');
    if (others.length > 0) {
      this.events.push({
        type: 'team.updated',
        resourceType: 'team',
        resourceId: after.id,
        data: { team: teamView(after), changed: [...others] },
      });
    }
  }

  teamDeleted(team: GroupRow): void {
    this.events.push({
      type: 'team.deleted',
      resourceType: 'team',
      resourceId: team.id,
      data: { team: teamView(team) },
    });
  }

  membersAdded(teamId: string, members: readonly { id: string; type: 'User' | 'Group' }[]): void {
    for (const m of members)
      this.events.push(memberEvent('team.member_added', teamId, m.id, m.type));
    if (members.length > 0) this.touched.add(teamId);
  }

  membersRemoved(teamId: string, members: readonly { id: string; type: 'User' | 'Group' }[]): void {
    for (const m of members)
      this.events.push(memberEvent('team.member_removed', teamId, m.id, m.type));
    if (members.length > 0) this.touched.add(teamId);
  }

  // Rules -------------------------------------------------------------------

  /** Checked in `commit`, under the account lock: concurrent claims are counted one after another. */
  private claimSeat(userId: string): void {
    if (this.seats !== null) this.seatClaims.push(userId);
  }

  private async checkSeat(userId: string, seats: number): Promise<void> {
    const used = await this.store.countActiveUsers(userId);
    if (used >= seats) {
      throw new DomainError(
        'seats_exhausted',
        `The account's seat limit of ${seats} active users is reached (${used} in use): deactivate a user or raise the limit (roster account update --seats). Nothing was changed.`,
      );
    }
  }

  private async mapUser(before: UserRow | undefined, after: UserRow): Promise<void> {
    if (this.settings.departmentTeams) {
      const from = departmentOf(before);
      const to = departmentOf(after);
      if (from?.toLowerCase() !== to?.toLowerCase()) {
        if (from !== null) {
          const old = await this.store.findMappedTeam('department', departmentKey(from));
          if (
            old !== undefined &&
            (await this.store.removeMembership(old.id, after.id, 'department'))
          ) {
            this.membersRemoved(old.id, [{ id: after.id, type: 'User' }]);
          }
        }
        if (to !== null) {
          const team = await this.ensureTeam(
            'department',
            departmentKey(to),
            departmentTeamName(to),
          );
          if (await this.store.addMembership(team, after.id, 'User', 'department', this.at)) {
            this.membersAdded(team, [{ id: after.id, type: 'User' }]);
          }
        }
      }
    }
    if (this.settings.managerTeams && before?.managerId !== after.managerId) {
      if (before?.managerId != null) await this.leaveManagerTeam(before.managerId, after.id);
      if (after.managerId !== null) {
        const team = await this.managerTeam(after.managerId);
        if (team !== undefined) await this.joinManagerTeam(team, after.id);
      }
    }
    if (
      before !== undefined &&
      before.displayName !== after.displayName &&
      this.settings.managerTeams
    ) {
      const own = await this.store.findMappedTeam('manager', after.id);
      if (own !== undefined) await this.renameMapped(own.id, `Team ${nameOf(after)}`);
    }
  }

  /** The team led by `managerId`, created (and hung under the manager's own manager's team) on first need. */
  private async managerTeam(
    managerId: string,
    seen = new Set<string>(),
  ): Promise<string | undefined> {
    const existing = await this.store.findMappedTeam('manager', managerId);
    if (existing !== undefined) return existing.id;
    const manager = await this.store.user(managerId);
    if (manager === undefined) return undefined; // not provisioned yet: built when it is
    const id = await this.ensureTeam('manager', managerId, `Team ${nameOf(manager)}`);
    seen.add(managerId);
    if (manager.managerId !== null && !seen.has(manager.managerId)) {
      const parent = await this.managerTeam(manager.managerId, seen);
      // Manager loops in the directory (A manages B manages A) must not make a team contain itself.
      if (
        parent !== undefined &&
        !(await this.store.containsTeam(id, parent)) &&
        (await this.store.addMembership(parent, id, 'Group', 'manager', this.at))
      ) {
        this.membersAdded(parent, [{ id, type: 'Group' }]);
      }
    }
    return id;
  }

  private async joinManagerTeam(teamId: string, reportId: string): Promise<void> {
    if (await this.store.addMembership(teamId, reportId, 'User', 'manager', this.at)) {
      this.membersAdded(teamId, [{ id: reportId, type: 'User' }]);
    }
    const reportsTeam = await this.store.findMappedTeam('manager', reportId);
    if (
      reportsTeam !== undefined &&
      !(await this.store.containsTeam(reportsTeam.id, teamId)) &&
      (await this.store.addMembership(teamId, reportsTeam.id, 'Group', 'manager', this.at))
    ) {
      this.membersAdded(teamId, [{ id: reportsTeam.id, type: 'Group' }]);
    }
  }

  private async leaveManagerTeam(managerId: string, reportId: string): Promise<void> {
    const team = await this.store.findMappedTeam('manager', managerId);
    if (team === undefined) return;
    if (await this.store.removeMembership(team.id, reportId, 'manager'))
      this.membersRemoved(team.id, [{ id: reportId, type: 'User' }]);
    const reportsTeam = await this.store.findMappedTeam('manager', reportId);
    if (
      reportsTeam !== undefined &&
      (await this.store.removeMembership(team.id, reportsTeam.id, 'manager'))
    ) {
      this.membersRemoved(team.id, [{ id: reportsTeam.id, type: 'Group' }]);
    }
  }

  private async ensureTeam(
    origin: 'department' | 'manager',
    key: string,
    baseName: string,
  ): Promise<string> {
    const existing = await this.store.findMappedTeam(origin, key);
    if (existing !== undefined) return existing.id;
    const name = await this.freeName(baseName);
    const id = randomUUID();
    await this.store.createMappedTeam({ id, origin, key, name, at: this.at });
    this.events.push({
      type: 'team.created',
      resourceType: 'team',
      resourceId: id,
      data: {
        team: { id, displayName: name, externalId: null, createdAt: this.at, updatedAt: this.at },
        origin,
      },
    });
    this.touched.add(id);
    return id;
  }

  /** Team names are unique per account: a mapped team that meets a taken name is numbered. */
  private async freeName(base: string, exceptId?: string, numbered = false): Promise<string> {
    if (!numbered && !(await this.store.isTeamNameTaken(base, exceptId))) return base;
    for (let n = 2; ; n++) {
      const candidate = `${base} (${n})`;
      if (!(await this.store.isTeamNameTaken(candidate, exceptId))) return candidate;
    }
  }

  /** A manager's team follows the manager's name; its base name changes with it. */
  private async renameMapped(teamId: string, baseName: string): Promise<void> {
    const team = await this.store.teamOrigin(teamId);
    if (team === undefined || team.baseName === baseName) return;
    const desired = team.deactivated ? `${baseName}${DEACTIVATED_SUFFIX}` : baseName;
    const name = await this.freeName(desired, teamId);
    await this.store.setTeamState(teamId, {
      displayName: name,
      deactivated: team.deactivated,
      baseName,
      at: this.at,
    });
    this.renamed(teamId, team.displayName, name, team.deactivated);
    this.touched.add(teamId);
  }

  /**
   * A team Roster created by mapping that has no live member left keeps its
   * history and is renamed "<name> (deactivated)"; the suffix goes when members
   * return. Teams pushed by the identity provider keep exactly the name it sent
   * (changing it would start a rename loop with the provider). A name another
   * team holds meanwhile is numbered, never a conflict for the request.
   */
  private async settleTeam(teamId: string): Promise<void> {
    const team = await this.store.teamOrigin(teamId);
    if (team === undefined || team.origin === 'scim') return;
    const base = team.baseName ?? team.displayName;
    const dead = (await this.store.liveMemberCount(teamId)) === 0;
    const desired = dead ? `${base}${DEACTIVATED_SUFFIX}` : base;
    if (dead === team.deactivated && isVariantOf(team.displayName, desired)) return;
    const name = isVariantOf(team.displayName, desired)
      ? team.displayName
      : await this.freeName(desired, teamId);
    await this.store.setTeamState(teamId, { displayName: name, deactivated: dead, at: this.at });
    if (name !== team.displayName) this.renamed(teamId, team.displayName, name, dead);
  }

  private renamed(
    teamId: string,
    previousName: string,
    displayName: string,
    deactivated: boolean,
  ): void {
    this.events.push({
      type: 'team.renamed',
      resourceType: 'team',
      resourceId: teamId,
      data: { team: { id: teamId, displayName }, previousName, deactivated },
    });
  }
}

/** `name` is `desired` or its numbered variant `desired (n)`. */
function isVariantOf(name: string, desired: string): boolean {
  if (name.toLowerCase() === desired.toLowerCase()) return true;
  const prefix = `${desired} (`.toLowerCase();
  return name.toLowerCase().startsWith(prefix) && /^\d+\)$/.test(name.slice(prefix.length));
}

function memberEvent(
  type: 'team.member_added' | 'team.member_removed',
  teamId: string,
  memberId: string,
  memberType: 'User' | 'Group',
): NewEvent {
  return { type, resourceType: 'team', resourceId: teamId, data: { teamId, memberId, memberType } };
}
