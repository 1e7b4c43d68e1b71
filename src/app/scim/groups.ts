import { randomUUID } from 'node:crypto';
import { badRequest, notFound } from '../../core/errors.js';
import { applyPatch, type MemberChange, type MemberRef } from '../../core/patch/apply.js';
import { parsePatchRequest } from '../../core/patch/request.js';
import { normalizeResource } from '../../core/resource/normalize.js';
import { project, wants, type Projection } from '../../core/resource/projection.js';
import { isObject, type JsonObject } from '../../core/resource/values.js';
import { GROUP_RESOURCE } from '../../core/schemas/rfc7643.js';
import type { AccountStore, GroupRow } from '../ports.js';
import { checkIfMatch } from './etag.js';
import { parseListParams, type RawListParams } from './list-params.js';
import { listResponse, renderGroup, type Locator } from './render.js';
import type { ScimResult } from './result.js';

/** Most members one request may add or set, so one request cannot hold the database for long. */
export const MAX_MEMBERS_PER_REQUEST = 10_000;

/** Separates `members` (kept as rows) from the rest of a normalised group body. */
function splitMembers(data: JsonObject): { data: JsonObject; members: MemberRef[] | undefined } {
  const { members, ...rest } = data;
  if (members === undefined) return { data: rest, members: undefined };
  const refs = (Array.isArray(members) ? members : []).filter(isObject).map((m, i) => {
    if (typeof m['value'] !== 'string' || m['value'] === '') {
      throw badRequest('invalidValue', `members[${i}] needs a "value" holding the id of a User or Group.`);
    }
    return typeof m['type'] === 'string' ? { value: m['value'], type: m['type'] } : { value: m['value'] };
  });
  return { data: rest, members: refs };
}

function columnsOf(data: JsonObject) {
  return {
    displayName: String(data['displayName']),
    externalId: typeof data['externalId'] === 'string' ? data['externalId'] : null,
  };
}

/** SCIM use cases for /Groups (Roster's teams) of one account. Members live in rows, never in the document. */
export class GroupsService {
  constructor(
    private readonly store: AccountStore,
    private readonly locator: Locator,
  ) {}

  async create(body: unknown): Promise<ScimResult> {
    const { data, members } = splitMembers(normalizeResource(body, GROUP_RESOURCE).data);
    const now = new Date().toISOString();
    const id = randomUUID();
    const row: GroupRow = { id, ...columnsOf(data), createdAt: now, updatedAt: now, version: 1, data };
    let added = 0;
    await this.store.transaction(async (tx) => {
      await tx.insertGroup(row);
      if (members !== undefined && members.length > 0) {
        added = await this.applyMemberChanges(tx, id, [{ kind: 'add', members }], now);
      }
    });
    return this.result(201, row, {}, { resourceId: id, change: { op: 'create', attributes: Object.keys(data), members: { added, removed: 0 } } });
  }

  async get(id: string, projection: Projection): Promise<ScimResult> {
    const row = await this.store.getGroup(id);
    if (row === undefined) throw this.missing(id);
    return this.result(200, row, projection, { resourceId: id });
  }

  async list(params: RawListParams): Promise<ScimResult> {
    const { query, startIndex, projection } = parseListParams(params, GROUP_RESOURCE);
    const page = await this.store.listGroups(query);
    const resources = await this.renderMany(page.rows, projection);
    return { status: 200, body: listResponse(page.total, startIndex, resources) };
  }

  /** PUT replaces the team; `members`, when given, replaces the member list (omitted: unchanged). */
  async replace(id: string, body: unknown, ifMatch: string | undefined, projection: Projection): Promise<ScimResult> {
    const { data, members } = splitMembers(normalizeResource(body, GROUP_RESOURCE).data);
    let counts = { added: 0, removed: 0 };
    const row = await this.store.transaction(async (tx) => {
      const current = await tx.getGroup(id, { forUpdate: true });
      if (current === undefined) throw this.missing(id);
      checkIfMatch(ifMatch, current.version, `Group ${id}`);
      const now = new Date().toISOString();
      if (members !== undefined) {
        const removed = await tx.removeAllMembers(id);
        const added = await this.applyMemberChanges(tx, id, [{ kind: 'add', members }], now);
        counts = { added, removed };
      }
      return this.write(tx, current, data, now);
    });
    return this.result(200, row, projection, { resourceId: id, change: { op: 'replace', attributes: Object.keys(data), members: counts } });
  }

  /**
   * PATCH: attribute ops change the document, member ops become row inserts and
   * deletes, all in one transaction. Answered 200 with the team, members left
   * out unless asked for: echoing a 100k-member list after a one-member add is
   * how large groups die (IDP-COMPAT).
   */
  async patch(id: string, body: unknown, ifMatch: string | undefined, projection: Projection): Promise<ScimResult> {
    const operations = parsePatchRequest(body);
    let changed: readonly string[] = [];
    let counts = { added: 0, removed: 0 };
    const row = await this.store.transaction(async (tx) => {
      const current = await tx.getGroup(id, { forUpdate: true });
      if (current === undefined) throw this.missing(id);
      checkIfMatch(ifMatch, current.version, `Group ${id}`);
      const patched = applyPatch(current.data, operations, GROUP_RESOURCE, { membersAttribute: 'members' });
      changed = patched.changed;
      const now = new Date().toISOString();
      counts = await this.countedChanges(tx, id, patched.memberChanges, now);
      const dataChanged = JSON.stringify(patched.data) !== JSON.stringify(current.data);
      if (dataChanged || counts.added + counts.removed > 0) return this.write(tx, current, patched.data, now);
      return current;
    });
    const shown: Projection = projection.include !== undefined || projection.exclude !== undefined ? projection : { exclude: [] };
    const defaultExclusion = projection.include === undefined && !(projection.exclude?.some((p) => p.attr.name === 'members') ?? false);
    return this.result(200, row, shown, { resourceId: id, change: { op: 'patch', attributes: changed, members: counts } }, defaultExclusion && projection.include === undefined);
  }

  async delete(id: string): Promise<ScimResult> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.deleteGroup(id))) throw this.missing(id);
    });
    return { status: 204, resourceId: id, change: { op: 'delete' } };
  }

  private async countedChanges(tx: AccountStore, id: string, changes: readonly MemberChange[], now: string) {
    let added = 0;
    let removed = 0;
    for (const change of changes) {
      if (change.kind === 'add') added += await this.applyMemberChanges(tx, id, [change], now);
      else if (change.kind === 'remove') removed += await tx.removeMembers(id, change.ids);
      else removed += await tx.removeAllMembers(id);
    }
    return { added, removed };
  }

  /** Adds members after checking every id names a user or team of this account; unknown ids fail the request. */
  private async applyMemberChanges(tx: AccountStore, groupId: string, changes: readonly MemberChange[], now: string): Promise<number> {
    let added = 0;
    for (const change of changes) {
      if (change.kind !== 'add') continue;
      if (change.members.length > MAX_MEMBERS_PER_REQUEST) {
        throw badRequest('invalidValue', `At most ${MAX_MEMBERS_PER_REQUEST} members can be added in one request; split the change.`);
      }
      const ids = change.members.map((m) => m.value);
      if (ids.includes(groupId)) throw badRequest('invalidValue', `A team cannot be a member of itself (${groupId}).`);
      const known = await tx.resolveMemberIds(ids);
      const unknown = [...new Set(ids.filter((memberId) => !known.has(memberId)))];
      if (unknown.length > 0) {
        const shown = unknown.slice(0, 10).join(', ');
        throw badRequest(
          'invalidValue',
          `No user or group with id ${shown}${unknown.length > 10 ? ` (and ${unknown.length - 10} more)` : ''} in this account; nothing was changed. Provision the member first, then add it.`,
        );
      }
      added += await tx.addMembers(groupId, change.members.map((m) => ({ id: m.value, type: known.get(m.value)! })), now);
    }
    return added;
  }

  private async write(tx: AccountStore, current: GroupRow, data: JsonObject, now: string): Promise<GroupRow> {
    const next: GroupRow = { ...current, ...columnsOf(data), data, updatedAt: now, version: current.version + 1 };
    if (!(await tx.updateGroup(next, current.version))) throw new Error(`group ${current.id} changed during its own transaction`);
    return next;
  }

  private missing(id: string) {
    return notFound(`Group ${id} not found in this account.`);
  }

  private async result(
    status: number,
    row: GroupRow,
    projection: Projection,
    extra: Pick<ScimResult, 'resourceId' | 'change'>,
    omitMembers = false,
  ): Promise<ScimResult> {
    const [resource] = await this.renderMany([row], projection, omitMembers);
    return { status, body: resource!, version: row.version, location: `${this.locator.baseUrl}/Groups/${row.id}`, ...extra };
  }

  private async renderMany(rows: readonly GroupRow[], projection: Projection, omitMembers = false): Promise<JsonObject[]> {
    const loadMembers = !omitMembers && wants(projection, 'members');
    const members = loadMembers && rows.length > 0 ? await this.store.members(rows.map((r) => r.id)) : undefined;
    return rows.map((row) =>
      project(renderGroup(row, this.locator, members === undefined ? undefined : (members.get(row.id) ?? [])), GROUP_RESOURCE, projection),
    );
  }
}
