import {
  sql,
  type Compilable,
  type CompiledQuery,
  type Kysely,
  type Selectable,
  type Transaction,
} from 'kysely';
import { conflict } from '../core/errors.js';
import type { JsonObject } from '../core/resource/values.js';
import type {
  AccountStore,
  GroupRow,
  ListQuery,
  MemberRow,
  NewUser,
  Page,
  UserRow,
  UserUpdate,
} from '../app/ports.js';
import type { Database, GroupsTable, UsersTable } from './db-schema.js';
import { compileFilter, compileSort, type Dialect, type ResourceMapping } from './filter-sql.js';
import { isUniqueViolation } from './connect.js';
import { KyselyWorkspaceStore } from './workspace-store.js';
import { groupCommitOf } from './group-commit.js';
import { bulkChunks } from './bulk.js';
import type { WorkspaceStore } from '../app/workspace/ports.js';
import { ENTERPRISE_USER_SCHEMA_ID } from '../core/schemas/rfc7643.js';

const CHUNK = 500;

/** What a list page spends on a row besides its stored document (id, meta, envelope), in bytes. */
const ROW_OVERHEAD_BYTES = 512;

const USER_COLUMNS = [
  'users.id',
  'users.account_id',
  'users.user_name',
  'users.user_name_lc',
  'users.external_id',
  'users.display_name',
  'users.active',
  'users.manager_id',
  'users.created_at',
  'users.updated_at',
  'users.version',
] as const;

const GROUP_COLUMNS = [
  'groups.id',
  'groups.account_id',
  'groups.display_name',
  'groups.display_name_lc',
  'groups.external_id',
  'groups.created_at',
  'groups.updated_at',
  'groups.version',
] as const;

const USER_MAPPING: ResourceMapping = {
  table: 'users',
  columns: {
    id: { column: 'id' },
    userName: { column: 'user_name_lc', folded: true },
    externalId: { column: 'external_id' },
    displayName: { column: 'display_name_lc', folded: true },
    active: { column: 'active' },
    'meta.created': { column: 'created_at' },
    'meta.lastModified': { column: 'updated_at' },
    [`${ENTERPRISE_USER_SCHEMA_ID}:manager.value`]: { column: 'manager_id' },
  },
  rows: {
    emails: {
      from: (a) =>
        sql`user_emails AS ${sql.raw(a)} WHERE ${sql.ref(`${a}.user_id`)} = ${sql.ref('users.id')} AND ${sql.ref(`${a}.account_id`)} = ${sql.ref('users.account_id')}`,
      // is_primary is not mapped: it holds 0 for both `false` and a missing `primary`,
      // and a missing value must not match `primary eq false` (RFC 7644 §3.4.2.2).
      subs: {
        value: { column: 'value_lc', folded: true },
        type: { column: 'type_lc', folded: true },
      },
      requires: 'value',
      keyed: {
        outer: 'id',
        select: (a, accountId) =>
          sql`SELECT ${sql.ref(`${a}.user_id`)} FROM user_emails AS ${sql.raw(a)} WHERE ${sql.ref(`${a}.account_id`)} = ${accountId}`,
      },
    },
    groups: {
      from: (a) =>
        // Only memberships of the identity provider's teams: mapped teams are not SCIM resources.
        sql`group_members AS ${sql.raw(a)} WHERE ${sql.ref(`${a}.member_id`)} = ${sql.ref('users.id')} AND ${sql.ref(`${a}.account_id`)} = ${sql.ref('users.account_id')} AND ${sql.ref(`${a}.source`)} = 'scim'`,
      subs: { value: { column: 'group_id' } },
    },
  },
};

const GROUP_MAPPING: ResourceMapping = {
  table: 'groups',
  columns: {
    id: { column: 'id' },
    displayName: { column: 'display_name_lc', folded: true },
    externalId: { column: 'external_id' },
    'meta.created': { column: 'created_at' },
    'meta.lastModified': { column: 'updated_at' },
  },
  rows: {
    members: {
      from: (a) =>
        sql`group_members AS ${sql.raw(a)} WHERE ${sql.ref(`${a}.group_id`)} = ${sql.ref('groups.id')} AND ${sql.ref(`${a}.account_id`)} = ${sql.ref('groups.account_id')}`,
      subs: { value: { column: 'member_id' }, type: { column: 'member_type' } },
    },
  },
};

function parseData(data: unknown): JsonObject {
  return (typeof data === 'string' ? JSON.parse(data) : data) as JsonObject;
}

function toUser(row: Omit<UsersTable, 'password_hash' | 'display_name_lc'>): UserRow {
  return {
    id: row.id,
    userName: row.user_name,
    externalId: row.external_id,
    displayName: row.display_name,
    active: Number(row.active) === 1,
    managerId: row.manager_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    data: parseData(row.data),
  };
}

function toGroup(
  row: Omit<Selectable<GroupsTable>, 'origin' | 'origin_key' | 'base_name' | 'deactivated'>,
): GroupRow {
  return {
    id: row.id,
    displayName: row.display_name,
    externalId: row.external_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    data: parseData(row.data),
  };
}

const compiledQueries = new Map<string, CompiledQuery<unknown>>();

/**
 * A hot-path query built and compiled once per dialect, then run with new parameters:
 * Kysely otherwise builds, freezes and compiles its operation tree on every call
 * (a fifth of a GET by id's CPU, docs/benchmarks.md). `build` must produce the same SQL
 * for every call with the same `key`; `parameters` are in the order of its placeholders.
 */
function precompiled<R>(
  key: string,
  dialect: Dialect,
  build: () => Compilable<R>,
  parameters: readonly unknown[],
): CompiledQuery<R> {
  const cacheKey = `${dialect}:${key}`;
  let compiled = compiledQueries.get(cacheKey);
  if (compiled === undefined) {
    compiled = build().compile();
    compiledQueries.set(cacheKey, compiled);
  }
  return { ...compiled, parameters } as CompiledQuery<R>;
}

/**
 * One page of a list. A page shorter than the limit is the last one, so the total
 * follows without a count(*) unless it is empty past the first row (the offset may
 * be beyond the end): lookups by userName, displayName or externalId never count.
 */
async function pageOf<R>(
  query: ListQuery,
  count: () => Promise<number>,
  fetch: () => Promise<R[]>,
): Promise<Page<R>> {
  if (query.limit <= 0) return { total: await count(), rows: [] };
  const rows = await fetch();
  const last = rows.length < query.limit && (rows.length > 0 || query.offset === 0);
  return { total: last ? query.offset + rows.length : await count(), rows };
}

/**
 * A page read as keys, then rows by key, in the keys' order. A row deleted between the
 * two reads (PostgreSQL, outside a transaction) would shorten the page and make it look
 * like the last one, with a wrong total: the page is read again instead.
 */
async function pageByKeys<R extends { id: string }>(
  readKeys: () => Promise<string[]>,
  readRows: (ids: string[]) => Promise<R[]>,
): Promise<R[]> {
  for (let attempt = 1; ; attempt++) {
    const ids = await readKeys();
    if (ids.length === 0) return [];
    const rows = await readRows(ids);
    if (rows.length === ids.length || attempt === 3) {
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    }
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** AccountStore over Kysely, identical for SQLite and PostgreSQL but for `dialect` switches. */
export class KyselyAccountStore implements AccountStore {
  readonly workspace: WorkspaceStore;

  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    private readonly dialect: Dialect,
    readonly accountId: string,
    private readonly inTransaction = false,
  ) {
    this.workspace = new KyselyWorkspaceStore(db, dialect, accountId);
  }

  async transaction<T>(work: (store: AccountStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    const inside = (trx: Transaction<Database>) =>
      work(new KyselyAccountStore(trx, this.dialect, this.accountId, true));
    // SQLite: group commit, one fsync for a batch of concurrent writes (group-commit.ts).
    if (this.dialect === 'sqlite' && !this.db.isTransaction)
      return groupCommitOf(this.db).run(inside);
    return this.db.transaction().execute(inside);
  }

  async getUser(id: string, options: { forUpdate?: boolean } = {}): Promise<UserRow | undefined> {
    const lock = options.forUpdate === true && this.dialect === 'postgres';
    const query = precompiled(
      lock ? 'getUser:forUpdate' : 'getUser',
      this.dialect,
      () => {
        const select = this.db
          .selectFrom('users')
          .selectAll()
          .where('account_id', '=', '')
          .where('id', '=', '');
        return lock ? select.forUpdate() : select;
      },
      [this.accountId, id],
    );
    const [row] = (await this.db.executeQuery(query)).rows;
    return row === undefined ? undefined : toUser(row);
  }

  async listUsers(query: ListQuery): Promise<Page<UserRow>> {
    let base = this.db.selectFrom('users').where('users.account_id', '=', this.accountId);
    if (query.filter !== undefined)
      base = base.where(
        compileFilter(query.filter, USER_MAPPING, this.dialect, this.accountId) as never,
      );
    return pageOf(
      query,
      async () =>
        Number(
          (await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n,
        ),
      async () => {
        const sort =
          query.sortBy === undefined
            ? undefined
            : (compileSort(query.sortBy, USER_MAPPING, this.dialect, query.descending) as never);
        // The page's keys first, from the (account_id, created_at, id) index, then only
        // those rows: a deep page skips index entries, not stored resources.
        let keys = base.select('users.id');
        if (sort !== undefined) keys = keys.orderBy(sort);
        keys = keys
          .orderBy('users.created_at')
          .orderBy('users.id')
          .limit(query.limit)
          .offset(query.offset);
        return pageByKeys(
          async () => (await keys.execute()).map((row) => row.id),
          (ids) =>
            this.db
              .selectFrom('users')
              .select(USER_COLUMNS)
              .select(this.dataOrSize('users', query))
              .where('users.account_id', '=', this.accountId)
              .where('users.id', 'in', ids)
              .execute(),
        );
      },
    ).then((page) => this.withinBudget('users', page, query.maxBytes, toUser));
  }

  async insertUser(user: NewUser): Promise<void> {
    try {
      await this.db
        .insertInto('users')
        .values({
          id: user.id,
          account_id: this.accountId,
          user_name: user.userName,
          user_name_lc: user.userName.toLowerCase(),
          external_id: user.externalId,
          display_name: user.displayName,
          display_name_lc: user.displayName?.toLowerCase() ?? null,
          active: user.active ? 1 : 0,
          manager_id: user.managerId,
          created_at: user.createdAt,
          updated_at: user.updatedAt,
          version: 1,
          data: JSON.stringify(user.data),
          password_hash: user.passwordHash,
        })
        .execute();
    } catch (error) {
      throw this.mapUserConflict(error, user.userName);
    }
    await this.writeEmails(user.id, user.emails);
  }

  async updateUser(user: UserUpdate, expectedVersion: number): Promise<boolean> {
    let result;
    try {
      result = await this.db
        .updateTable('users')
        .set({
          user_name: user.userName,
          user_name_lc: user.userName.toLowerCase(),
          external_id: user.externalId,
          display_name: user.displayName,
          display_name_lc: user.displayName?.toLowerCase() ?? null,
          active: user.active ? 1 : 0,
          manager_id: user.managerId,
          updated_at: user.updatedAt,
          version: user.version,
          data: JSON.stringify(user.data),
          ...(user.passwordHash !== undefined ? { password_hash: user.passwordHash } : {}),
        })
        .where('account_id', '=', this.accountId)
        .where('id', '=', user.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
    } catch (error) {
      throw this.mapUserConflict(error, user.userName);
    }
    if (Number(result.numUpdatedRows) !== 1) return false;
    await this.db
      .deleteFrom('user_emails')
      .where('account_id', '=', this.accountId)
      .where('user_id', '=', user.id)
      .execute();
    await this.writeEmails(user.id, user.emails);
    return true;
  }

  private async writeEmails(userId: string, emails: NewUser['emails']): Promise<void> {
    const rows = emails.map((e) => ({
      account_id: this.accountId,
      user_id: userId,
      value_lc: e.value.toLowerCase(),
      type_lc: e.type === null ? null : e.type.toLowerCase(),
      is_primary: e.primary ? 1 : 0,
    }));
    for (const batch of bulkChunks(rows, 5))
      await this.db.insertInto('user_emails').values(batch).execute();
  }

  private mapUserConflict(error: unknown, userName: string): unknown {
    return isUniqueViolation(error)
      ? conflict(
          `A user with userName "${userName}" already exists in this account (userName is unique, case-insensitively).`,
        )
      : error;
  }

  async deleteUser(id: string): Promise<boolean> {
    await this.db
      .deleteFrom('user_emails')
      .where('account_id', '=', this.accountId)
      .where('user_id', '=', id)
      .execute();
    const result = await this.db
      .deleteFrom('users')
      .where('account_id', '=', this.accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async findUserForSignIn(keys: {
    externalId?: string;
    userName?: string;
    email?: string;
  }): Promise<UserRow | undefined> {
    const users = () =>
      this.db.selectFrom('users').selectAll('users').where('users.account_id', '=', this.accountId);
    if (keys.externalId !== undefined) {
      const row = await users().where('users.external_id', '=', keys.externalId).executeTakeFirst();
      if (row !== undefined) return toUser(row);
    }
    if (keys.userName !== undefined) {
      const row = await users()
        .where('users.user_name_lc', '=', keys.userName.toLowerCase())
        .executeTakeFirst();
      if (row !== undefined) return toUser(row);
    }
    if (keys.email !== undefined) {
      const row = await users()
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('user_emails as e')
              .select('e.user_id')
              .where('e.account_id', '=', this.accountId)
              .whereRef('e.user_id', '=', 'users.id')
              .where('e.value_lc', '=', keys.email!.toLowerCase()),
          ),
        )
        .orderBy('users.created_at')
        .orderBy('users.id')
        .limit(1)
        .executeTakeFirst();
      if (row !== undefined) return toUser(row);
    }
    return undefined;
  }

  async teamsNamed(names: readonly string[]): Promise<{ id: string }[]> {
    if (names.length === 0) return [];
    const folded = [...new Set(names.map((n) => n.toLowerCase()))].slice(0, CHUNK);
    return this.db
      .selectFrom('groups')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('origin', '=', 'scim')
      .where((eb) =>
        eb.or([
          eb('display_name_lc', 'in', folded),
          eb('external_id', 'in', names.slice(0, CHUNK)),
        ]),
      )
      .orderBy('id')
      .execute();
  }

  async userNames(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const batch of chunks([...new Set(ids)])) {
      const rows = await this.db
        .selectFrom('users')
        .select(['id', 'display_name', 'user_name'])
        .where('account_id', '=', this.accountId)
        .where('id', 'in', batch)
        .execute();
      for (const row of rows) out.set(row.id, row.display_name ?? row.user_name);
    }
    return out;
  }

  async groupsOfUsers(ids: readonly string[]): Promise<Map<string, MemberRow[]>> {
    const out = new Map<string, MemberRow[]>();
    for (const batch of chunks([...new Set(ids)])) {
      const build = (members: readonly string[]) =>
        this.db
          .selectFrom('group_members as gm')
          .innerJoin('groups as g', 'g.id', 'gm.group_id')
          .select(['gm.member_id', 'g.id', 'g.display_name'])
          .where('gm.account_id', '=', this.accountId)
          .where('g.origin', '=', sql.lit('scim')) // a literal: the precompiled form below binds only account and member
          .where('gm.member_id', 'in', members);
      // One user (GET, POST, PATCH of a user): the same SQL every time, compiled once.
      const rows =
        batch.length === 1
          ? (
              await this.db.executeQuery(
                precompiled(
                  'groupsOfUser',
                  this.dialect,
                  () => build(['']).orderBy('g.display_name_lc'),
                  [this.accountId, batch[0]],
                ),
              )
            ).rows
          : await build(batch).orderBy('g.display_name_lc').execute();
      for (const row of rows) {
        const list = out.get(row.member_id) ?? [];
        list.push({ value: row.id, type: 'Group', display: row.display_name });
        out.set(row.member_id, list);
      }
    }
    return out;
  }

  async getGroup(id: string, options: { forUpdate?: boolean } = {}): Promise<GroupRow | undefined> {
    let query = this.db
      .selectFrom('groups')
      .selectAll()
      .where('account_id', '=', this.accountId)
      .where('id', '=', id)
      .where('origin', '=', 'scim');
    if (options.forUpdate === true && this.dialect === 'postgres') query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row === undefined ? undefined : toGroup(row);
  }

  async listGroups(query: ListQuery): Promise<Page<GroupRow>> {
    // SCIM serves the identity provider's teams; teams built by mapping live in the product API.
    let base = this.db
      .selectFrom('groups')
      .where('groups.account_id', '=', this.accountId)
      .where('groups.origin', '=', 'scim');
    if (query.filter !== undefined)
      base = base.where(compileFilter(query.filter, GROUP_MAPPING, this.dialect) as never);
    return pageOf(
      query,
      async () =>
        Number(
          (await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n,
        ),
      async () => {
        const sort =
          query.sortBy === undefined
            ? undefined
            : (compileSort(query.sortBy, GROUP_MAPPING, this.dialect, query.descending) as never);
        // The page's keys first, from the (account_id, created_at, id) index, then only
        // those rows: a deep page skips index entries, not stored resources.
        let keys = base.select('groups.id');
        if (sort !== undefined) keys = keys.orderBy(sort);
        keys = keys
          .orderBy('groups.created_at')
          .orderBy('groups.id')
          .limit(query.limit)
          .offset(query.offset);
        return pageByKeys(
          async () => (await keys.execute()).map((row) => row.id),
          (ids) =>
            this.db
              .selectFrom('groups')
              .select(GROUP_COLUMNS)
              .select(this.dataOrSize('groups', query))
              .where('groups.account_id', '=', this.accountId)
              .where('groups.id', 'in', ids)
              .execute(),
        );
      },
    ).then((page) => this.withinBudget('groups', page, query.maxBytes, toGroup));
  }

  async memberCounts(groupIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const batch of chunks([...new Set(groupIds)])) {
      const rows = await this.db
        .selectFrom('group_members')
        .select(['group_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where('account_id', '=', this.accountId)
        .where('group_id', 'in', batch)
        .groupBy('group_id')
        .execute();
      for (const row of rows) out.set(row.group_id, Number(row.n));
    }
    return out;
  }

  /**
   * The `data` column of a list page; under a byte budget, nothing yet: sizes and
   * documents are read for the page's rows only (`withinBudget`), never computed for
   * every row a sort or filter looks at.
   */
  private dataOrSize(table: 'users' | 'groups', query: ListQuery) {
    const data = sql.ref(`${table}.data`);
    if (query.maxBytes === undefined)
      return [sql<string | null>`${data}`.as('data'), sql<number | null>`NULL`.as('data_size')];
    return [sql<string | null>`NULL`.as('data'), sql<number | null>`NULL`.as('data_size')];
  }

  /**
   * Under a byte budget: reads the size of each row's document, and the document itself
   * when small (a page of `limit` such rows fits the budget), keeps the rows that fit
   * `maxBytes` (at least one), then reads the large documents kept. A page of large
   * documents is never read whole.
   */
  private async withinBudget<
    R extends { id: string; data: string | null; data_size: number | null },
    T,
  >(
    table: 'users' | 'groups',
    page: Page<R>,
    maxBytes: number | undefined,
    convert: (row: R & { data: string }) => T,
  ): Promise<Page<T>> {
    let rows = page.rows;
    if (maxBytes !== undefined && rows.length > 0) {
      const inline = Math.floor(maxBytes / rows.length);
      const data = sql.ref(`${table}.data`);
      // PostgreSQL keeps documents as jsonb: their size is that of their text, as sent.
      const size =
        this.dialect === 'postgres'
          ? sql<number>`octet_length(${data}::text)`
          : sql<number>`octet_length(${data})`;
      const sized = new Map<string, { size: number; data: string | null }>();
      for (const batch of chunks(rows.map((r) => r.id))) {
        const found = await this.db
          .selectFrom(table)
          .select([
            `${table}.id as id`,
            size.as('size'),
            sql<string | null>`CASE WHEN ${size} <= ${inline} THEN ${data} END`.as('data'),
          ])
          .where(`${table}.account_id`, '=', this.accountId)
          .where(`${table}.id`, 'in', batch)
          .execute();
        for (const row of found) sized.set(row.id, { size: Number(row.size), data: row.data });
      }
      let used = 0;
      let keep = rows.length;
      for (let i = 0; i < rows.length; i++) {
        used += (sized.get(rows[i]!.id)?.size ?? 0) + ROW_OVERHEAD_BYTES;
        if (used > maxBytes && i > 0) {
          keep = i;
          break;
        }
      }
      rows = rows.slice(0, keep).map((r) => ({ ...r, data: sized.get(r.id)?.data ?? null }));
      const missing = rows.filter((r) => r.data === null).map((r) => r.id);
      if (missing.length > 0) {
        const documents = new Map<string, string>();
        for (const batch of chunks(missing)) {
          const found = await this.db
            .selectFrom(table)
            .select(['id', 'data'])
            .where('account_id', '=', this.accountId)
            .where('id', 'in', batch)
            .execute();
          for (const row of found) documents.set(row.id, row.data);
        }
        rows = rows.map((r) => (r.data === null ? { ...r, data: documents.get(r.id) ?? '{}' } : r));
      }
    }
    return { total: page.total, rows: rows.map((r) => convert(r as R & { data: string })) };
  }

  async insertGroup(group: Omit<GroupRow, 'version'>): Promise<void> {
    try {
      await this.db
        .insertInto('groups')
        .values({
          id: group.id,
          account_id: this.accountId,
          display_name: group.displayName,
          display_name_lc: group.displayName.toLowerCase(),
          external_id: group.externalId,
          created_at: group.createdAt,
          updated_at: group.updatedAt,
          version: 1,
          data: JSON.stringify(group.data),
        })
        .execute();
    } catch (error) {
      throw this.mapGroupConflict(error, group.displayName);
    }
  }

  async updateGroup(group: Omit<GroupRow, 'createdAt'>, expectedVersion: number): Promise<boolean> {
    try {
      const result = await this.db
        .updateTable('groups')
        .set({
          display_name: group.displayName,
          display_name_lc: group.displayName.toLowerCase(),
          external_id: group.externalId,
          updated_at: group.updatedAt,
          version: group.version,
          data: JSON.stringify(group.data),
        })
        .where('account_id', '=', this.accountId)
        .where('id', '=', group.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    } catch (error) {
      throw this.mapGroupConflict(error, group.displayName);
    }
  }

  private mapGroupConflict(error: unknown, displayName: string): unknown {
    return isUniqueViolation(error)
      ? conflict(
          `A group with displayName "${displayName}" already exists in this account (team names are unique, case-insensitively).`,
        )
      : error;
  }

  async deleteGroup(id: string): Promise<boolean> {
    await this.removeAllMembers(id);
    await this.removeFromAllGroups(id);
    const result = await this.db
      .deleteFrom('groups')
      .where('account_id', '=', this.accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async members(groupIds: readonly string[]): Promise<Map<string, MemberRow[]>> {
    const out = new Map<string, MemberRow[]>();
    for (const batch of chunks([...new Set(groupIds)])) {
      const rows = await this.db
        .selectFrom('group_members as gm')
        .leftJoin('users as u', (join) =>
          join.onRef('u.id', '=', 'gm.member_id').on('u.account_id', '=', this.accountId),
        )
        .leftJoin('groups as g', (join) =>
          join.onRef('g.id', '=', 'gm.member_id').on('g.account_id', '=', this.accountId),
        )
        .select([
          'gm.group_id',
          'gm.member_id',
          'gm.member_type',
          'u.display_name',
          'u.user_name',
          'g.display_name as group_name',
        ])
        .where('gm.account_id', '=', this.accountId)
        .where('gm.group_id', 'in', batch)
        .orderBy('gm.created_at')
        .orderBy('gm.member_id')
        .execute();
      for (const row of rows) {
        const list = out.get(row.group_id) ?? [];
        list.push({
          value: row.member_id,
          type: row.member_type === 'Group' ? 'Group' : 'User',
          display: row.display_name ?? row.user_name ?? row.group_name ?? null,
        });
        out.set(row.group_id, list);
      }
    }
    return out;
  }

  async resolveMemberIds(ids: readonly string[]): Promise<Map<string, 'User' | 'Group'>> {
    const out = new Map<string, 'User' | 'Group'>();
    for (const batch of chunks([...new Set(ids)])) {
      const users = await this.db
        .selectFrom('users')
        .select('id')
        .where('account_id', '=', this.accountId)
        .where('id', 'in', batch)
        .execute();
      for (const row of users) out.set(row.id, 'User');
      const groups = await this.db
        .selectFrom('groups')
        .select('id')
        .where('account_id', '=', this.accountId)
        .where('id', 'in', batch)
        .where('origin', '=', 'scim')
        .execute();
      for (const row of groups) out.set(row.id, 'Group');
    }
    return out;
  }

  async addMembers(
    groupId: string,
    members: readonly { id: string; type: 'User' | 'Group' }[],
    at: string,
  ): Promise<number> {
    if (members.length === 0) return 0;
    // group_members' key is (group_id, member_id): a row written under another account's
    // group id would be invisible to that account yet block its own insert of that member
    // (convention 5). One key lookup per call, whatever the team's size.
    const owned = await this.db
      .selectFrom('groups')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('id', '=', groupId)
      .executeTakeFirst();
    if (owned === undefined) return 0;
    let added = 0;
    for (const batch of chunks(members)) {
      const result = await this.db
        .insertInto('group_members')
        .values(
          batch.map((m) => ({
            account_id: this.accountId,
            group_id: groupId,
            member_id: m.id,
            member_type: m.type,
            created_at: at,
          })),
        )
        .onConflict((oc) => oc.columns(['group_id', 'member_id']).doNothing())
        .executeTakeFirst();
      added += Number(result.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  async removeMembers(groupId: string, ids: readonly string[]): Promise<number> {
    let removed = 0;
    for (const batch of chunks([...new Set(ids)])) {
      const result = await this.db
        .deleteFrom('group_members')
        .where('account_id', '=', this.accountId)
        .where('group_id', '=', groupId)
        .where('member_id', 'in', batch)
        .executeTakeFirst();
      removed += Number(result.numDeletedRows);
    }
    return removed;
  }

  async removeAllMembers(groupId: string): Promise<number> {
    const result = await this.db
      .deleteFrom('group_members')
      .where('account_id', '=', this.accountId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async memberTypes(
    groupId: string,
    ids?: readonly string[],
  ): Promise<Map<string, 'User' | 'Group'>> {
    const out = new Map<string, 'User' | 'Group'>();
    const batches = ids === undefined ? [undefined] : chunks([...new Set(ids)]);
    for (const batch of batches) {
      let query = this.db
        .selectFrom('group_members')
        .select(['member_id', 'member_type'])
        .where('account_id', '=', this.accountId)
        .where('group_id', '=', groupId);
      if (batch !== undefined) query = query.where('member_id', 'in', batch);
      for (const row of await query.execute())
        out.set(row.member_id, row.member_type === 'Group' ? 'Group' : 'User');
    }
    return out;
  }

  async removeFromAllGroups(memberId: string): Promise<void> {
    await this.db
      .deleteFrom('group_members')
      .where('account_id', '=', this.accountId)
      .where('member_id', '=', memberId)
      .execute();
  }
}
