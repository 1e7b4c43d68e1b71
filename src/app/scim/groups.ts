import { randomUUID } from 'node:crypto';
import { badRequest } from '../../core/errors.js';
import {
  applyPatch,
  planMemberChanges,
  type MemberChange,
  type MemberRef,
} from '../../core/patch/apply.js';
import { parsePatchRequest } from '../../core/patch/request.js';
import { groupIndexedValues } from '../../core/resource/indexed-columns.js';
import { normalizeResource } from '../../core/resource/normalize.js';
import { project, wants, type Projection } from '../../core/resource/projection.js';
import { isObject, type JsonObject } from '../../core/resource/values.js';
import { GROUP_RESOURCE } from '../../core/schemas/rfc7643.js';
import type { AccountStore, GetOptions, GroupRow, MemberChangeAhead } from '../ports.js';
import { changedAttributes as changedKeys } from '../../core/resource/diff.js';
import { WorkspaceRules } from '../workspace/rules.js';
import { checkResourceLimits, fitToBudget } from '../limits.js';
import { ResourceService, type OpenOptions } from './resource-service.js';
import { parseListParams, type RawListParams } from './list-params.js';
import { renderGroup } from './render.js';
import type { Change, ScimResult } from './result.js';

/** A PATCH begun without locking the team turned out to change more than its members. */
class TeamLockNeeded extends Error {
  constructor() {
    super('team lock needed');
  }
}

/** `members`, or a filtered `members[...]` path (RFC 7644 §3.5.2): an op on membership rows only. */
function isMembersPath(path: string | undefined): boolean {
  if (path === undefined) return false;
  const p = path.trim().toLowerCase();
  return p === 'members' || p.startsWith('members[');
}

/** Bytes a member takes in a rendered team (value, $ref, type, display), for the list byte budget. */
const MEMBER_BYTES = 200;

function jsonBytes(data: JsonObject): number {
  return Buffer.byteLength(JSON.stringify(data), 'utf8');
}

/** Most members one request may add or set, so one request cannot hold the database for long. */
export const MAX_MEMBERS_PER_REQUEST = 10_000;

/**
 * Separates `members` (kept as rows) from the rest of a normalised group body.
 * `sentMembers` tells an explicit `"members": []` (clear them: RFC 7644 §3.5.1)
 * from no `members` at all (keep them), which normalisation cannot.
 */
function splitMembers(
  data: JsonObject,
  sentMembers: boolean,
): { data: JsonObject; members: MemberRef[] | undefined } {
  const { members, ...rest } = data;
  if (members === undefined) return { data: rest, members: sentMembers ? [] : undefined };
  const refs = (Array.isArray(members) ? members : []).filter(isObject).map((m, i) => {
    if (typeof m['value'] !== 'string' || m['value'] === '') {
      throw badRequest(
        'invalidValue',
        `members[${i}] needs a "value" holding the id of a User or Group.`,
      );
    }
    return typeof m['type'] === 'string'
      ? { value: m['value'], type: m['type'] }
      : { value: m['value'] };
  });
  return { data: rest, members: refs };
}

function hasMembersKey(body: unknown): boolean {
  return isObject(body) && Object.keys(body).some((key) => key.toLowerCase() === 'members');
}

/** The indexed values of a team document (core/resource/indexed-columns.ts). */
const columnsOf = groupIndexedValues;

/** SCIM use cases for /Groups (Roster's teams) of one account. Members live in rows, never in the document. */
export class GroupsService extends ResourceService<GroupRow> {
  protected readonly type = 'Group';

  async create(body: unknown): Promise<ScimResult> {
    const { data, members } = splitMembers(
      normalizeResource(body, GROUP_RESOURCE).data,
      hasMembersKey(body),
    );
    checkResourceLimits(data, this.limits, 'group');
    const now = new Date().toISOString();
    const id = randomUUID();
    const row: GroupRow = {
      id,
      ...columnsOf(data),
      createdAt: now,
      updatedAt: now,
      version: 1,
      data,
    };
    let added = 0;
    await this.store.transaction(async (tx) => {
      const rules = await WorkspaceRules.begin(tx, now);
      rules.scimTeam(id);
      await rules.makeRoomFor(row.displayName);
      await tx.insertGroup(row);
      rules.teamCreated(row);
      if (members !== undefined && members.length > 0) {
        added = (await this.applyChange(tx, rules, id, { kind: 'add', members }, now)).added;
      }
      await rules.commit();
    });
    return this.result(
      201,
      row,
      {},
      {
        resourceId: id,
        change: { op: 'create', attributes: Object.keys(data), members: { added, removed: 0 } },
      },
    );
  }

  async get(id: string, projection: Projection): Promise<ScimResult> {
    const row = await this.store.getGroup(id);
    if (row === undefined) throw this.missing(id);
    return this.result(200, row, projection, { resourceId: id });
  }

  async list(params: RawListParams): Promise<ScimResult> {
    const { query, startIndex, projection } = parseListParams(params, GROUP_RESOURCE);
    // A byte budget per page, members included: a page of large teams is cut short
    // (RFC 7644 §3.4.2.4 allows fewer than `count`); at least one team is always sent.
    const budget = this.limits.listPageBytes;
    const page = await this.store.listGroups({ ...query, maxBytes: budget });
    let rows = page.rows;
    if (rows.length > 1 && wants(projection, 'members')) {
      const counts = await this.store.memberCounts(rows.map((r) => r.id));
      rows = rows.slice(
        0,
        fitToBudget(
          rows.map((r) => jsonBytes(r.data) + 512 + (counts.get(r.id) ?? 0) * MEMBER_BYTES),
          budget,
        ),
      );
    }
    return this.listed(page.total, startIndex, rows, projection);
  }

  /** PUT replaces the team; `members`, when given, replaces the member list (omitted: unchanged). */
  async replace(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: Projection,
  ): Promise<ScimResult> {
    const { data, members } = splitMembers(
      normalizeResource(body, GROUP_RESOURCE).data,
      hasMembersKey(body),
    );
    checkResourceLimits(data, this.limits, 'group');
    let counts = { added: 0, removed: 0 };
    const row = await this.changeExisting(
      id,
      ifMatch,
      { forUpdate: true },
      async (tx, rules, current) => {
        rules.scimTeam(id);
        const now = rules.at;
        if (members !== undefined) counts = await this.replaceMembers(tx, rules, id, members, now);
        const next = await this.write(tx, rules, current, data, now);
        rules.teamChanged(current, next, changedKeys(current.data, next.data));
        await rules.commit();
        return next;
      },
    );
    return this.result(200, row, projection, {
      resourceId: id,
      change: { op: 'replace', attributes: Object.keys(data), members: counts },
    });
  }

  /**
   * PATCH: attribute ops change the document, member ops become row inserts and
   * deletes, all in one transaction. Answered 200 with the team, members left
   * out unless asked for: echoing a 100k-member list after a one-member add is
   * how large groups die (IDP-COMPAT).
   */
  async patch(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: Projection,
  ): Promise<ScimResult> {
    const operations = parsePatchRequest(body);
    let changed: readonly string[] = [];
    let counts = { added: 0, removed: 0 };
    // Member changes without If-Match (what identity providers send) do not lock the team
    // for their whole transaction: they hold KEY SHARE on it (a delete waits for them,
    // they wait for a delete), insert and delete membership rows, and count the team's
    // new version at the end (countGroupChange: on PostgreSQL in a version shard, without
    // updating the team row). Concurrent member changes of one team thus overlap.
    // Anything else (attributes, If-Match) locks the team FOR UPDATE first, which waits
    // for the member changes in flight, and reads it, version included, stable.
    const at = new Date().toISOString();
    const attempt = (memberOnly: boolean) =>
      this.changeExisting(
        id,
        ifMatch,
        memberOnly
          ? { lock: 'keyShare', at, ahead: this.memberChangeAhead(id, operations, at) }
          : { forUpdate: true },
        async (tx, rules, current) => {
          rules.scimTeam(id);
          const patched = applyPatch(current.data, operations, GROUP_RESOURCE, {
            membersAttribute: 'members',
            workUnits: this.limits.patchWorkUnits,
          });
          checkResourceLimits(patched.data, this.limits, 'group');
          changed = patched.changed;
          const now = rules.at;
          const adding = patched.memberChanges.reduce(
            (n, c) => n + (c.kind === 'add' ? c.members.length : 0),
            0,
          );
          if (adding > MAX_MEMBERS_PER_REQUEST) {
            throw badRequest(
              'invalidValue',
              `At most ${MAX_MEMBERS_PER_REQUEST} members can be added in one request (this one adds ${adding}); split the change.`,
            );
          }
          const dataChanged = JSON.stringify(patched.data) !== JSON.stringify(current.data);
          if (memberOnly && dataChanged) throw new TeamLockNeeded();
          counts = await this.countedChanges(tx, rules, id, patched.memberChanges, now);
          if (!dataChanged && counts.added + counts.removed === 0) return current;
          if (memberOnly) {
            // The team's new version (on PostgreSQL one of its version shards, not the team
            // row), then the member events, the transaction's last statements (on PostgreSQL
            // both sent with COMMIT, pg-fold.ts). The team's attributes did not change, so
            // there is no team event to add. The version answered is the one read plus this
            // change: member changes of the team committing meanwhile make the team's
            // version higher than it, never lower, and versions only grow, so the ETag can
            // only fail an If-Match, never pass one wrongly.
            await tx.countGroupChange(id, now);
            await rules.commit();
            return { ...current, version: current.version + 1, updatedAt: now };
          }
          const next = await this.write(tx, rules, current, patched.data, now);
          rules.teamChanged(current, next, changedKeys(current.data, next.data));
          await rules.commit();
          return next;
        },
      );
    const memberOnly = ifMatch === undefined && operations.every((op) => isMembersPath(op.path));
    const noBody = projection.include === undefined && projection.exclude === undefined;
    if (memberOnly && noBody) {
      // One member change answered 204 (what identity providers send): where the store can
      // make it and commit it in one statement (PostgreSQL), without a transaction of ours.
      const done = await this.memberChangeAtOnce(id, operations, at);
      if (done !== undefined) return done;
    }
    let row: GroupRow;
    try {
      row = await attempt(memberOnly);
    } catch (error) {
      if (!(error instanceof TeamLockNeeded)) throw error;
      row = await attempt(false);
    }
    const change: Change = { op: 'patch', attributes: changed, members: counts };
    // RFC 7644 §3.5.2: 200 with the resource, or 204. Without `attributes` or
    // `excludedAttributes` the answer is 204 (Entra and Okta accept it), so a
    // one-member change never echoes a large team.
    if (projection.include === undefined && projection.exclude === undefined)
      return { status: 204, version: row.version, resourceId: id, change };
    const defaultExclusion =
      projection.include === undefined &&
      !(projection.exclude?.some((p) => p.attr.name === 'members') ?? false);
    return this.result(200, row, projection, { resourceId: id, change }, defaultExclusion);
  }

  delete(id: string, ifMatch?: string): Promise<ScimResult> {
    return this.deleteExisting(id, ifMatch, async (tx, rules, current) => {
      // As a sub-team it leaves its parents; its own members go with it (team.deleted says so).
      for (const parent of await tx.workspace.membershipsOf(id))
        rules.membersRemoved(parent.groupId, [{ id, type: 'Group' }]);
      rules.teamDeleted(current);
      await tx.deleteGroup(id);
    });
  }

  protected open(store: AccountStore, id: string, options: OpenOptions) {
    return store.openGroupChange(id, options, options.ahead);
  }

  protected read(store: AccountStore, id: string, options: GetOptions) {
    return store.getGroup(id, options);
  }

  /**
   * A member-only PATCH of one change made by the store at once
   * (AccountStore.memberChangeAtOnce): the same changes, events, version and answer as
   * the transaction below makes. Undefined when the store did nothing (the transaction
   * then makes the change, and answers what needs answering: a missing team, unknown
   * members, nested teams).
   */
  private async memberChangeAtOnce(
    id: string,
    operations: ReturnType<typeof parsePatchRequest>,
    at: string,
  ): Promise<ScimResult | undefined> {
    if (this.store.memberChangeAtOnce === undefined) return undefined;
    const ahead = this.memberChangeAhead(id, operations, at);
    if (ahead === undefined) return undefined;
    const done = await this.store.memberChangeAtOnce(id, ahead, at);
    if (done === undefined) return undefined;
    const n = done.changed.length;
    const members = ahead.kind === 'add' ? { added: n, removed: 0 } : { added: 0, removed: n };
    return {
      status: 204,
      version: n > 0 ? done.version + 1 : done.version,
      resourceId: id,
      // As the transaction reports it: applyPatch's `changed` of member operations.
      change: { op: 'patch', attributes: ['members'], members },
    };
  }

  /**
   * The one member change a member-only PATCH makes when the team is there, as
   * applyChange will make it (the same ids, the same time), for openGroupChange to run
   * with its read: on PostgreSQL a round trip fewer for the change identity providers send
   * most. Undefined for anything else (several changes, a replace, a request the patch
   * refuses: the write then finds out as before).
   */
  private memberChangeAhead(
    id: string,
    operations: ReturnType<typeof parsePatchRequest>,
    at: string,
  ): MemberChangeAhead | undefined {
    try {
      const memberChanges = planMemberChanges(operations, GROUP_RESOURCE, {
        membersAttribute: 'members',
        workUnits: this.limits.patchWorkUnits,
      });
      const [change] = memberChanges;
      if (memberChanges.length !== 1 || change === undefined) return undefined;
      if (change.kind === 'add')
        return { kind: 'add', ids: this.checkMemberIds(id, change.members), at };
      if (change.kind === 'remove') return { kind: 'remove', ids: [...new Set(change.ids)] };
      return undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Applies planned member changes in order. A removeAll followed by an add
   * (replace of `members`) is applied as the difference, so members that stay
   * are neither removed nor re-added, and the events say only what changed.
   */
  private async countedChanges(
    tx: AccountStore,
    rules: WorkspaceRules,
    id: string,
    changes: readonly MemberChange[],
    now: string,
  ) {
    const counts = { added: 0, removed: 0 };
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      const next = changes[i + 1];
      let result: { added: number; removed: number };
      if (change.kind === 'removeAll' && next?.kind === 'add') {
        result = await this.replaceMembers(tx, rules, id, next.members, now);
        i++;
      } else {
        result = await this.applyChange(tx, rules, id, change, now);
      }
      counts.added += result.added;
      counts.removed += result.removed;
    }
    return counts;
  }

  private async replaceMembers(
    tx: AccountStore,
    rules: WorkspaceRules,
    id: string,
    members: readonly MemberRef[],
    now: string,
  ) {
    const wanted = new Set(members.map((m) => m.value));
    const current = await tx.memberTypes(id);
    const leaving = [...current.keys()].filter((memberId) => !wanted.has(memberId));
    const removed =
      leaving.length > 0
        ? await this.applyChange(tx, rules, id, { kind: 'remove', ids: leaving }, now)
        : { added: 0, removed: 0 };
    const added =
      members.length > 0
        ? await this.applyChange(tx, rules, id, { kind: 'add', members }, now)
        : { added: 0, removed: 0 };
    return { added: added.added, removed: removed.removed };
  }

  private async applyChange(
    tx: AccountStore,
    rules: WorkspaceRules,
    groupId: string,
    change: MemberChange,
    now: string,
  ) {
    if (change.kind === 'add') {
      const ids = this.checkMemberIds(groupId, change.members);
      // Users only (what identity providers send): found and inserted in one go, on
      // PostgreSQL one statement; with a team among them, the cycle check comes first.
      const found = await tx.insertUserMembers(groupId, ids, now);
      this.checkKnown(ids, found.known);
      let added = found.added;
      if (added === undefined) {
        await this.checkCycles(tx, groupId, found.known);
        // Only the rows actually inserted (RETURNING): members already there are no change.
        added = await tx.insertMembers(
          groupId,
          ids.map((id) => ({ id, type: found.known.get(id)! })),
          now,
        );
      }
      rules.membersAdded(groupId, added);
      return { added: added.length, removed: 0 };
    }
    const removed =
      change.kind === 'remove'
        ? await tx.deleteMembers(groupId, change.ids)
        : await tx.deleteMembers(groupId);
    rules.membersRemoved(groupId, removed);
    return { added: 0, removed: removed.length };
  }

  /** The ids to add, without repeats, in request order; bounded, and never the team itself. */
  private checkMemberIds(groupId: string, members: readonly MemberRef[]): string[] {
    if (members.length > MAX_MEMBERS_PER_REQUEST) {
      throw badRequest(
        'invalidValue',
        `At most ${MAX_MEMBERS_PER_REQUEST} members can be added in one request; split the change.`,
      );
    }
    const ids = [...new Set(members.map((m) => m.value))];
    if (ids.includes(groupId))
      throw badRequest('invalidValue', `A team cannot be a member of itself (${groupId}).`);
    return ids;
  }

  /** Every id names a user or team of this account; unknown ids fail the whole request. */
  private checkKnown(ids: readonly string[], known: ReadonlyMap<string, 'User' | 'Group'>): void {
    const unknown = ids.filter((memberId) => !known.has(memberId));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 10).join(', ');
      throw badRequest(
        'invalidValue',
        `No user or group with id ${shown}${unknown.length > 10 ? ` (and ${unknown.length - 10} more)` : ''} in this account; nothing was changed. Provision the member first, then add it.`,
      );
    }
  }

  /**
   * Sub-teams: a team may not end up inside itself, however deep (the org chart and
   * every walk over parent teams rely on the hierarchy being a tree or a DAG).
   */
  private async checkCycles(
    tx: AccountStore,
    groupId: string,
    known: ReadonlyMap<string, 'User' | 'Group'>,
  ): Promise<void> {
    for (const [memberId, type] of known) {
      if (type === 'Group' && (await tx.workspace.containsTeam(memberId, groupId))) {
        throw badRequest(
          'invalidValue',
          `Adding team ${memberId} to team ${groupId} would make a cycle: ${groupId} is already inside ${memberId}.`,
        );
      }
    }
  }

  private async write(
    tx: AccountStore,
    rules: WorkspaceRules,
    current: GroupRow,
    data: JsonObject,
    now: string,
  ): Promise<GroupRow> {
    const next: GroupRow = {
      ...current,
      ...columnsOf(data),
      data,
      updatedAt: now,
      version: current.version + 1,
    };
    if (next.displayName.toLowerCase() !== current.displayName.toLowerCase()) {
      await rules.makeRoomFor(next.displayName);
    }
    if (!(await tx.updateGroup(next, current.version)))
      throw new Error(`group ${current.id} changed during its own transaction`);
    return next;
  }

  private async result(
    status: number,
    row: GroupRow,
    projection: Projection,
    extra: Pick<ScimResult, 'resourceId' | 'change'>,
    omitMembers = false,
  ): Promise<ScimResult> {
    const [resource] = await this.renderMany([row], projection, omitMembers);
    return this.answer(status, row, resource!, extra);
  }

  protected async renderMany(
    rows: readonly GroupRow[],
    projection: Projection,
    omitMembers = false,
  ): Promise<JsonObject[]> {
    const loadMembers = !omitMembers && wants(projection, 'members');
    const members =
      loadMembers && rows.length > 0 ? await this.store.members(rows.map((r) => r.id)) : undefined;
    return rows.map((row) =>
      project(
        renderGroup(
          row,
          this.locator,
          members === undefined ? undefined : (members.get(row.id) ?? []),
        ),
        GROUP_RESOURCE,
        projection,
      ),
    );
  }
}
