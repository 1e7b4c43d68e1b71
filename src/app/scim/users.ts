import { randomUUID } from 'node:crypto';
import { applyPatch } from '../../core/patch/apply.js';
import { userIndexedValues } from '../../core/resource/indexed-columns.js';
import { parsePatchRequest } from '../../core/patch/request.js';
import { normalizeResource } from '../../core/resource/normalize.js';
import { project, wants, type Projection } from '../../core/resource/projection.js';
import type { JsonObject } from '../../core/resource/values.js';
import { USER_RESOURCE } from '../../core/schemas/rfc7643.js';
import { checkResourceLimits } from '../limits.js';
import { hashPassword } from '../passwords.js';
import type { AccountStore, GetOptions, MemberRow, UserRow } from '../ports.js';
import { changedAttributes } from '../../core/resource/diff.js';
import { WorkspaceRules } from '../workspace/rules.js';
import { ResourceService } from './resource-service.js';
import { parseListParams, type RawListParams } from './list-params.js';
import { listResponseText, renderUser, UserTextWriter, type UserExtras } from './render.js';
import { jsonResult, type Change, type ScimResult } from './result.js';

/** The indexed values of a user document (core/resource/indexed-columns.ts): what filters and lookups hit. */
const columnsOf = userIndexedValues;

/** SCIM use cases for /Users of one account (RFC 7644 §3.3–§3.6). */
export class UsersService extends ResourceService<UserRow> {
  protected readonly type = 'User';

  /**
   * Creates a user. `source` says who asked, for the `user.created` event: the identity
   * provider over SCIM, or the person's first sign-in through SSO (just-in-time).
   */
  async create(body: unknown, source: 'scim' | 'sso' = 'scim'): Promise<ScimResult> {
    const { data, password } = normalizeResource(body, USER_RESOURCE);
    // A user created without `active` is active; it is stored explicitly so filters see it.
    if (data['active'] === undefined) data['active'] = true;
    checkResourceLimits(data, this.limits, 'user');
    const now = new Date().toISOString();
    const id = randomUUID();
    const passwordHash = password === undefined ? null : await hashPassword(password);
    const columns = columnsOf(data);
    // A new user is in no SCIM team yet (mapped teams are not SCIM groups).
    const row: UserRow = {
      id,
      ...columns,
      createdAt: now,
      updatedAt: now,
      version: 1,
      data,
      groups: [],
    };
    await this.store.transaction(async (tx) => {
      const rules = await WorkspaceRules.begin(tx, now);
      rules.source = source;
      await tx.insertUser({ id, ...columns, createdAt: now, updatedAt: now, data, passwordHash });
      await rules.userCreated(row);
      await rules.commit();
    });
    return this.result(
      201,
      row,
      {},
      { resourceId: id, change: { op: 'create', attributes: Object.keys(data) } },
    );
  }

  async get(id: string, projection: Projection): Promise<ScimResult> {
    const row = await this.store.getUser(id, {
      related: wants(projection, 'groups') || wants(projection, 'manager'),
    });
    if (row === undefined) throw this.missing(id);
    return this.result(200, row, projection, { resourceId: id });
  }

  async list(params: RawListParams): Promise<ScimResult> {
    const { query, startIndex, projection } = parseListParams(params, USER_RESOURCE);
    // A byte budget per page: large documents make a page shorter, never a heap exhausted.
    const page = await this.store.listUsers({
      ...query,
      maxBytes: this.limits.listPageBytes,
      related: wants(projection, 'groups') || wants(projection, 'manager'),
    });
    return this.listed(page.total, startIndex, page.rows, projection);
  }

  /** PUT: full replace (RFC 7644 §3.5.1), except that an omitted `active` keeps its value (Okta). */
  async replace(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: Projection,
  ): Promise<ScimResult> {
    const { data, password } = normalizeResource(body, USER_RESOURCE);
    checkResourceLimits(data, this.limits, 'user');
    const passwordHash = password === undefined ? undefined : await hashPassword(password);
    const row = await this.changeExisting(
      id,
      ifMatch,
      { lock: 'noKeyUpdate', related: true },
      async (tx, rules, current) => {
        if (data['active'] === undefined) data['active'] = current.active;
        const changed = changedAttributes(current.data, data);
        return this.commitChange(tx, rules, current, data, passwordHash, changed);
      },
    );
    return this.result(200, row, projection, {
      resourceId: id,
      change: { op: 'replace', attributes: Object.keys(data) },
    });
  }

  async patch(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    projection: Projection,
  ): Promise<ScimResult> {
    const operations = parsePatchRequest(body);
    let changed: readonly string[] = [];
    // scrypt takes tens of milliseconds: it never runs while the transaction holds the
    // account lock (or SQLite's one connection). A PATCH that sets a password is
    // planned once to learn it, hashed outside, then applied for real.
    let hashed: { password: string; hash: string } | undefined;
    const attempt = () =>
      // NO KEY UPDATE: excludes other writes of this user, not member adds naming it.
      this.changeExisting(
        id,
        ifMatch,
        { lock: 'noKeyUpdate', related: true },
        async (tx, rules, current) => {
          const patched = applyPatch(current.data, operations, USER_RESOURCE, {
            workUnits: this.limits.patchWorkUnits,
          });
          checkResourceLimits(patched.data, this.limits, 'user');
          changed = patched.changed;
          if (patched.password !== undefined && hashed?.password !== patched.password) {
            throw new PasswordToHash(patched.password);
          }
          const passwordHash = patched.password === undefined ? undefined : hashed?.hash;
          // `remove active` is no instruction to re-activate: the user keeps their state.
          if (patched.data['active'] === undefined) patched.data['active'] = current.active;
          const diff = changedAttributes(current.data, patched.data);
          return this.commitChange(tx, rules, current, patched.data, passwordHash, diff);
        },
      );
    let row: UserRow;
    try {
      row = await attempt();
    } catch (error) {
      if (!(error instanceof PasswordToHash)) throw error;
      hashed = { password: error.password, hash: await hashPassword(error.password) };
      row = await attempt();
    }
    return this.result(200, row, projection, {
      resourceId: id,
      change: { op: 'patch', attributes: changed },
    });
  }

  delete(id: string, ifMatch?: string): Promise<ScimResult> {
    return this.deleteExisting(id, ifMatch, async (tx, rules, current) => {
      // Memberships go and reports lose their manager, with events for each.
      await rules.userDeleting(current);
      await tx.removeFromAllGroups(id);
      await tx.deleteUser(id);
    });
  }

  protected open(store: AccountStore, id: string, options: GetOptions & { related?: boolean }) {
    return store.openUserChange(id, options);
  }

  protected read(store: AccountStore, id: string, options: GetOptions & { related?: boolean }) {
    return store.getUser(id, options);
  }

  /**
   * Writes `data` (and a new password hash) as the user's next version with its change
   * events, and commits the rules; nothing changed means no new version.
   */
  private async commitChange(
    tx: AccountStore,
    rules: WorkspaceRules,
    current: UserRow,
    data: JsonObject,
    passwordHash: string | undefined,
    changed: readonly string[],
  ): Promise<UserRow> {
    if (passwordHash === undefined && changed.length === 0) return current;
    const next = await this.write(tx, current, data, passwordHash);
    await rules.userChanged(
      current,
      next,
      passwordHash !== undefined ? [...changed, 'password'] : changed,
    );
    await rules.commit();
    return next;
  }

  private async write(
    tx: AccountStore,
    current: UserRow,
    data: JsonObject,
    passwordHash: string | undefined,
  ): Promise<UserRow> {
    const columns = columnsOf(data);
    // The manager's name read with the row is the old manager's once the manager changes.
    const { managerName, ...kept } = current;
    const next = {
      ...kept,
      ...(columns.managerId === current.managerId && managerName !== undefined
        ? { managerName }
        : {}),
      ...columns,
      data,
      updatedAt: new Date().toISOString(),
      version: current.version + 1,
    };
    // Read under the user's row lock (changeExisting's `noKeyUpdate`) at current.version:
    // with the same userName the write cannot fail (settled, see AccountStore.updateUser).
    const written = await tx.updateUser(
      { ...next, ...(passwordHash !== undefined ? { passwordHash } : {}) },
      current.version,
      next.userName.toLowerCase() === current.userName.toLowerCase(),
    );
    // The row is locked (PostgreSQL) or the database serialised (SQLite): a lost race here is a bug, not a client error.
    if (!written) throw new Error(`user ${current.id} changed during its own transaction`);
    return next;
  }

  private async result(
    status: number,
    row: UserRow,
    projection: Projection,
    extra: { resourceId: string; change?: Change },
  ): Promise<ScimResult> {
    const [resource] = await this.renderMany([row], projection);
    return this.answer(status, row, resource!, extra, resource!['meta'] !== undefined);
  }

  protected async renderMany(
    rows: readonly UserRow[],
    projection: Projection,
  ): Promise<JsonObject[]> {
    if (rows.length === 0) return [];
    const extras = await this.extrasOf(rows, projection);
    return rows.map((row, i) =>
      project(renderUser(row, this.locator, extras[i]!), USER_RESOURCE, projection),
    );
  }

  /**
   * A page without `attributes`/`excludedAttributes`, as JSON text: each user written
   * from its stored document's text when the store read it as such and renderUserText
   * can (no JSON.parse of the document, no JSON.stringify of the rendered user), else
   * rendered and projected as renderMany does. The same text as JSON.stringify of
   * renderMany's page.
   */
  protected override async listed(
    total: number,
    startIndex: number,
    rows: readonly UserRow[],
    projection: Projection,
  ): Promise<ScimResult> {
    const plain = projection.include === undefined && projection.exclude === undefined;
    if (!plain || !rows.some((row) => row.text !== undefined))
      return super.listed(total, startIndex, rows, projection);
    const extras = await this.extrasOf(rows, projection);
    const writer = new UserTextWriter(this.locator);
    const resources = rows.map((row, i) => {
      const text = row.text === undefined ? undefined : writer.write(row, row.text, extras[i]!);
      return (
        text ??
        JSON.stringify(
          project(renderUser(row, this.locator, extras[i]!), USER_RESOURCE, projection),
        )
      );
    });
    return jsonResult(listResponseText(total, startIndex, resources));
  }

  /** Each row's teams and manager's name, read with the rows or here (one query each). */
  private async extrasOf(rows: readonly UserRow[], projection: Projection): Promise<UserExtras[]> {
    // Rows read with their teams and manager's name (`related`) need no further query.
    const unread = rows.filter((r) => r.groups === undefined).map((r) => r.id);
    const groups =
      wants(projection, 'groups') && unread.length > 0
        ? await this.store.groupsOfUsers(unread)
        : undefined;
    const managerIds = wants(projection, 'manager')
      ? rows.flatMap((r) =>
          r.managerId !== null && r.managerName === undefined ? [r.managerId] : [],
        )
      : [];
    const managers =
      managerIds.length > 0 ? await this.store.userNames(managerIds) : new Map<string, string>();
    const withGroups = wants(projection, 'groups');
    return rows.map((row) => {
      const managerName =
        row.managerId === null
          ? undefined
          : row.managerName !== undefined
            ? (row.managerName ?? undefined)
            : managers.get(row.managerId);
      // Assigned, not spread from conditional literals (see withRelated in account-store).
      const extras: { groups?: readonly MemberRow[]; managerName?: string } = {};
      if (withGroups) extras.groups = row.groups ?? groups?.get(row.id) ?? [];
      if (managerName !== undefined) extras.managerName = managerName;
      return extras;
    });
  }
}

/** Thrown out of a PATCH transaction to hash a new password outside it, then retry. */
class PasswordToHash extends Error {
  constructor(readonly password: string) {
    super('password to hash');
  }
}
