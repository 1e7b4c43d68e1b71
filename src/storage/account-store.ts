import {
  CompiledQuery,
  sql,
  type QueryResult,
  type RawBuilder,
  type Compilable,
  type Kysely,
  type Selectable,
  type Transaction,
} from 'kysely';
import { DomainError } from '../core/errors.js';
import type { JsonObject } from '../core/resource/values.js';
import type { TypedFilter } from '../core/filter/typed.js';
import type {
  AccountStore,
  GetOptions,
  GroupRow,
  ListQuery,
  MemberChangeAhead,
  MemberChangeDone,
  MemberRow,
  NewUser,
  Page,
  UserRow,
  UserUpdate,
  RowLock,
} from '../app/ports.js';
import type { Database, GroupsTable, UsersTable } from './db-schema.js';
import { mapDatabaseError, retried } from './db-errors.js';
import { compileFilter, compileSort, type ResourceMapping } from './filter-sql.js';
import { dialectOf, type DialectName, type SqlDialect } from './dialects/index.js';
import {
  accountState,
  KyselyWorkspaceStore,
  mapsTeams,
  mapsTeamsOf,
  rememberMapping,
} from './workspace-store.js';
import { bulkChunks } from './bulk.js';
import { preparable, prepared } from './pg-prepared.js';
import {
  inlineParameters,
  leadsTransaction,
  leadsTransactionInParts,
  partsParameters,
  trailsTransaction,
} from './pg-fold.js';
import { readRows } from './sqlite-reads.js';
import { queryScope } from './connect.js';
import type { AccountState, WorkspaceStore } from '../app/workspace/ports.js';
import { GROUP_INDEX, USER_INDEX } from '../core/resource/indexed-columns.js';
import { emailColumns, filterColumns, groupColumnValues, userColumnValues } from './columns.js';

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

/** A team's columns but its version, which groupVersion reads (the row's and its shards'). */
const GROUP_COLUMNS = [
  'groups.id',
  'groups.account_id',
  'groups.display_name',
  'groups.display_name_lc',
  'groups.external_id',
  'groups.created_at',
  'groups.updated_at',
] as const;

/** A select list of column names. */
function columnList(columns: readonly string[]): RawBuilder<unknown> {
  return sql.join(columns.map((c) => sql.ref(c)));
}

const USER_MAPPING: ResourceMapping = {
  table: 'users',
  columns: filterColumns(USER_INDEX),
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
    ...filterColumns(GROUP_INDEX),
    // lastModified as toGroup gives it: a later member change counted in a version shard
    // (PostgreSQL, migration 076) is the team's last change. SQLite's shard table is empty.
    'meta.lastModified': {
      column: 'updated_at',
      expression: sql`COALESCE((SELECT max(s.updated_at) FROM group_version_shards s
        WHERE s.group_id = groups.id AND s.updated_at > groups.updated_at), groups.updated_at)`,
    },
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

/**
 * Sets the teams and manager's name read with a user's row (relatedColumns), when they
 * were. Assigned to the row built, not spread into it: an object literal that starts with
 * a spread of a varying shape cost ~10 µs per user in V8 (Node 20), more than parsing the
 * user's document.
 */
function withRelated(
  user: { groups?: UserRow['groups']; managerName?: UserRow['managerName'] },
  row: object,
): void {
  const related = row as { groups_json?: unknown; manager_name?: string | null };
  if (related.groups_json === undefined) return;
  user.groups = (
    (typeof related.groups_json === 'string'
      ? JSON.parse(related.groups_json)
      : related.groups_json) as [string, string][]
  ).map(([value, display]) => ({ value, type: 'Group' as const, display }));
  user.managerName = related.manager_name ?? null;
}

export function toUser(row: Omit<UsersTable, 'password_hash' | 'display_name_lc'>): UserRow {
  const user: Omit<UserRow, 'groups' | 'managerName'> & Partial<UserRow> = {
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
  withRelated(user, row);
  return user;
}

/**
 * toUser, with the document kept as text (`text`, not enumerable) and parsed only when
 * `data` is first read (an own, enumerable accessor: a spread copy carries the parsed
 * document): a list page's renderer copies most documents from their text (UserTextWriter).
 */
export function toListedUser(row: Omit<UsersTable, 'password_hash' | 'display_name_lc'>): UserRow {
  if (typeof row.data !== 'string') return toUser(row);
  let text: string | undefined = row.data;
  let parsed: JsonObject | undefined;
  const user: Omit<UserRow, 'groups' | 'managerName'> & Partial<UserRow> = {
    id: row.id,
    userName: row.user_name,
    externalId: row.external_id,
    displayName: row.display_name,
    active: Number(row.active) === 1,
    managerId: row.manager_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    get data(): JsonObject {
      return (parsed ??= JSON.parse(row.data as string) as JsonObject);
    },
    set data(value: JsonObject) {
      // A new document: the stored text no longer represents it.
      parsed = value;
      text = undefined;
    },
  };
  withRelated(user, row);
  // Not enumerable: a representation of `data`, not a field (rows compare equal to toUser's).
  Object.defineProperty(user, 'text', { get: () => text, enumerable: false });
  return user;
}

type GroupSelection = Omit<
  Selectable<GroupsTable>,
  'origin' | 'origin_key' | 'base_name' | 'deactivated' | 'account_id' | 'display_name_lc'
> & {
  /** The latest member change counted in a version shard (groupVersion), if any. */
  shard_at?: string | null;
};

function toGroup(row: GroupSelection): GroupRow {
  const shardAt = row.shard_at ?? null;
  return {
    id: row.id,
    displayName: row.display_name,
    externalId: row.external_id,
    createdAt: row.created_at,
    // lastModified: the team row's last change or its last member change, whichever is later.
    updatedAt: shardAt !== null && shardAt > row.updated_at ? shardAt : row.updated_at,
    // bigint or numeric on PostgreSQL (a sum): as text.
    version: Number(row.version),
    data: parseData(row.data),
  };
}

/** A statement's text and its parameters. */
interface Statement {
  readonly text: string;
  readonly parameters: readonly unknown[];
}

const ACCOUNT_SEATS = 'account$seats';
const ACCOUNT_SETTINGS = 'account$settings';
const ROW_FOUND = 'account$found';

/** Texts of withAccountRow, by the statement they join to. */
const accountRowTexts = new Map<string, string>();

/**
 * `statement` (whose `$1` is the account and whose rows have an `id`) as one row with the
 * account's seats and settings beside its row's columns (NULL when it finds none), its
 * row lock kept (a locking clause applies in a LATERAL subquery). PostgreSQL only.
 */
function withAccountRow(statement: string): string {
  let text = accountRowTexts.get(statement);
  if (text === undefined) {
    text = `SELECT accounts.seats AS "${ACCOUNT_SEATS}", accounts.settings AS "${ACCOUNT_SETTINGS}", r.id IS NOT NULL AS "${ROW_FOUND}", r.* FROM accounts LEFT JOIN LATERAL (${statement}) r ON true WHERE accounts.id = $1`;
    // The first statement of a write transaction: sent with its BEGIN (pg-fold.ts).
    accountRowTexts.set(statement, preparable(leadsTransaction(text)));
  }
  return text;
}

/**
 * PostgreSQL's member statements (`param(n)`: the n-th placeholder), calls of the
 * functions of migration 095, whose plans the session keeps (a statement inlined with an
 * opening read was planned on every call; pg-fold.ts now sends the call as EXECUTE of the
 * session's prepared statement once it holds it). `add`: the ids found as users or SCIM
 * teams of the account (locked FOR KEY SHARE, so a member deleted meanwhile is waited for
 * and then not found) and, when every id is a user, their memberships inserted (the team
 * the account's, memberships already there left alone); $1 the account, $2 the ids, $3
 * the team, $4 the time. `remove`: the memberships deleted, $1 the account, $2 the team,
 * $3 the ids.
 */
const MEMBER_TEXTS = {
  add: (param: (n: number) => string) =>
    `SELECT member_id AS id, member_kind AS kind, added FROM roster_add_user_members(${param(1)}, ${param(2)}::text[], ${param(3)}, ${param(4)}::text)`,
  remove: (param: (n: number) => string) =>
    `SELECT member_id, member_type FROM roster_remove_members(${param(1)}, ${param(2)}, ${param(3)}::text[])`,
} as const;

const memberTexts = new Map<string, string>();

/** MEMBER_TEXTS[kind] alone, numbered from $1 (prepared, pg-prepared.ts). */
function memberText(kind: MemberChangeAhead['kind']): string {
  let text = memberTexts.get(kind);
  if (text === undefined) {
    text = preparable(MEMBER_TEXTS[kind]((n) => `$${n}`));
    memberTexts.set(kind, text);
  }
  return text;
}

/** The parameters of MEMBER_TEXTS[change.kind] for this change of team `groupId`. */
function memberParameters(accountId: string, groupId: string, change: MemberChangeAhead) {
  return change.kind === 'add'
    ? [accountId, change.ids, groupId, change.at]
    : [accountId, groupId, change.ids];
}

/** What identifies a member change announced ahead (the same change made later matches it). */
function aheadKey(groupId: string, change: MemberChangeAhead): string {
  return JSON.stringify([change.kind, groupId, change.ids, change.kind === 'add' ? change.at : '']);
}

const openingTexts = new Map<string, string | undefined>();

/**
 * withAccountRow(`read`) and then MEMBER_TEXTS[kind], its placeholders numbered after the
 * read's: one Query message with the transaction's BEGIN (pg-fold.ts), each part as the
 * session's prepared statement once it holds it; undefined when pg-fold could not register
 * it (the statements then go apart).
 */
function openingWithMemberChange(
  read: string,
  kind: MemberChangeAhead['kind'],
): string | undefined {
  const key = `${kind}\0${read}`;
  if (!openingTexts.has(key)) {
    openingTexts.set(key, leadsTransactionInParts([withAccountRow(read), memberText(kind)]));
  }
  return openingTexts.get(key);
}

/**
 * The account maps teams and was not locked first (openChange): its transaction is run
 * again, then reading (and locking) the account before anything else. Nothing of the first
 * run commits (a member change run ahead with its read is rolled back with it).
 */
export class AccountLockFirst extends Error {
  readonly code = 'ROSTER_ACCOUNT_LOCK_FIRST';
  constructor() {
    super('the account maps teams: its write runs again, the account locked first');
  }
}

const compiledQueries = new Map<string, CompiledQuery<unknown>>();
const lookupQueries = new Map<string, string>();

/**
 * A hot-path query built and compiled once per dialect, then run with new parameters:
 * Kysely otherwise builds, freezes and compiles its operation tree on every call
 * (a fifth of a GET by id's CPU, docs/benchmarks.md). `build` must produce the same SQL
 * for every call with the same `key`; `parameters` are in the order of its placeholders.
 */
function precompiled<R>(
  key: string,
  dialect: DialectName,
  build: () => Compilable<R>,
  parameters: readonly unknown[],
): CompiledQuery<R> {
  const cacheKey = `${dialect}:${key}`;
  let compiled = compiledQueries.get(cacheKey);
  if (compiled === undefined) {
    compiled = build().compile();
    preparable(compiled.sql);
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

/**
 * The folded value of a filter that is exactly `userName eq "<string>"` (the core
 * attribute, compared case-insensitively as RFC 7643 declares it), else undefined.
 */
function userNameLookup(filter: TypedFilter | undefined): string | undefined {
  return uniqueNameLookup(filter, 'userName', USER_MAPPING, 'user_name_lc');
}

/**
 * The folded value of a filter that is exactly `<attribute> eq "<string>"` on a core
 * attribute compared case-insensitively and stored folded in `column` (which must be
 * unique per account), else undefined.
 */
function uniqueNameLookup(
  filter: TypedFilter | undefined,
  attribute: string,
  mapping: ResourceMapping,
  column: string,
): string | undefined {
  if (filter === undefined || filter.kind !== 'compare' || filter.op !== 'eq') return undefined;
  const target = filter.target;
  if (target.relative || target.extension || target.sub !== undefined) return undefined;
  if (target.attr.name !== attribute || target.attr.caseExact === true) return undefined;
  if (typeof filter.value !== 'string') return undefined;
  // The compiler's folding (filter-sql.ts): JS toLowerCase(), as the folded column holds.
  const mapped = mapping.columns[attribute];
  return mapped?.column === column && mapped.folded === true
    ? filter.value.toLowerCase()
    : undefined;
}

/** A user's SCIM teams (JSON [id, name] pairs by name) and manager's name, as columns of a query over `alias`. */
function relatedColumns(dialect: SqlDialect, alias: string): string {
  const groups = dialect.jsonPairs(
    't.id',
    't.display_name',
    `FROM group_members gm JOIN groups t ON t.id = gm.group_id WHERE gm.account_id = ${alias}.account_id AND gm.member_id = ${alias}.id AND t.origin = 'scim'`,
    't.display_name_lc',
  );
  return `${groups} AS groups_json, (SELECT coalesce(m.display_name, m.user_name) FROM users m WHERE m.account_id = ${alias}.account_id AND m.id = ${alias}.manager_id) AS manager_name`;
}

/** A row of the unfiltered page statement (readUserPage). */
type PageRow = Omit<UsersTable, 'password_hash' | 'data'> & {
  data: string | null;
  data_size: number | null;
  total: number;
  changes: number;
};

/**
 * Positions between remembered anchors of the list order: a deep page skips fewer index
 * entries than this. 100, the page size identity providers ask for: their pages (1, 101,
 * 201, ...) start at an anchor and skip nothing (with 1,000: 450 entries on average, up to
 * a quarter of a page's statement on SQLite, and as many heap fetches on a PostgreSQL
 * table not yet vacuumed). An anchor is two keys: 10,000 of them at 1M users.
 */
const ANCHOR_STEP = 100;
/** Accounts whose anchors are remembered (least recently used dropped first). */
const ANCHOR_ACCOUNTS = 1000;
/** An account whose anchors went stale is not walked again sooner than this. */
const ANCHOR_REBUILD_MS = 1000;

interface Anchor {
  readonly position: number;
  readonly createdAt: string;
  readonly id: string;
  /** `accounts.user_changes` when taken: valid while it is unchanged. */
  readonly changes: number;
}

/**
 * Keys at every ANCHOR_STEP-th position of each account's unfiltered user list (ordered by
 * created_at, id), taken in one statement with the account's count of user inserts and
 * deletes. A page read from an anchor is the page at `offset` exactly when that count is
 * still the same in the page's own statement (ordering keys never change on update);
 * otherwise it is read again without. Per process, bounded, rebuilt at most once a second.
 */
class PageAnchors {
  private readonly byAccount = new Map<
    string,
    { changes: number; keys: { created_at: string; id: string }[] } | { builtAt: number }
  >();
  private readonly builtAt = new Map<string, number>();

  get(dialect: DialectName, accountId: string) {
    const key = `${dialect}:${accountId}`;
    const entry = this.byAccount.get(key);
    if (entry === undefined || !('keys' in entry)) return undefined;
    // Most recently used last.
    this.byAccount.delete(key);
    this.byAccount.set(key, entry);
    return {
      at: (offset: number): Anchor | undefined => {
        const k = Math.min(Math.floor(offset / ANCHOR_STEP), entry.keys.length - 1);
        if (k <= 0) return undefined;
        const key = entry.keys[k]!;
        return {
          position: k * ANCHOR_STEP,
          createdAt: key.created_at,
          id: key.id,
          changes: entry.changes,
        };
      },
    };
  }

  mayBuild(dialect: DialectName, accountId: string): boolean {
    const last = this.builtAt.get(`${dialect}:${accountId}`);
    return last === undefined || performance.now() - last >= ANCHOR_REBUILD_MS;
  }

  set(
    dialect: DialectName,
    accountId: string,
    changes: number,
    keys: { created_at: string; id: string }[],
  ): void {
    const key = `${dialect}:${accountId}`;
    this.stamp(dialect, accountId);
    this.byAccount.delete(key);
    this.byAccount.set(key, { changes, keys });
    while (this.byAccount.size > ANCHOR_ACCOUNTS)
      this.byAccount.delete(this.byAccount.keys().next().value!);
  }

  /** A build ended (through set() after a success, directly after a failure): no other before ANCHOR_REBUILD_MS. */
  stamp(dialect: DialectName, accountId: string): void {
    const key = `${dialect}:${accountId}`;
    this.builtAt.delete(key);
    this.builtAt.set(key, performance.now());
    while (this.builtAt.size > ANCHOR_ACCOUNTS)
      this.builtAt.delete(this.builtAt.keys().next().value!);
  }

  forget(dialect: DialectName, accountId: string): void {
    this.byAccount.delete(`${dialect}:${accountId}`);
  }
}

const pageAnchors = new PageAnchors();
/** Anchor builds in flight, by dialect and account (one at a time per account). */
const anchorBuilds = new Map<string, Promise<void>>();

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** AccountStore over Kysely, for SQLite and PostgreSQL alike: what differs is asked of `dialect`. */
export class KyselyAccountStore implements AccountStore {
  readonly workspace: WorkspaceStore;
  private readonly dialect: SqlDialect;

  /** `dialect`: the database's (RosterDatabase.sqlDialect); its name is accepted too. */
  constructor(
    private readonly db: Kysely<Database> | Transaction<Database>,
    dialect: SqlDialect | DialectName,
    readonly accountId: string,
    private readonly inTransaction = false,
  ) {
    this.dialect = dialectOf(dialect);
    this.workspace = new KyselyWorkspaceStore(db, this.dialect, accountId);
  }

  async transaction<T>(work: (store: AccountStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.dialect.transaction(this.db as Kysely<Database>, async (trx) => {
      const store = new KyselyAccountStore(trx, this.dialect, this.accountId, true);
      const result = await work(store);
      // A member change run ahead with the opening read (openGroupChange) and never asked
      // for: the caller went another way, so it must not commit.
      if (store.ahead !== undefined)
        throw new Error('a member change announced to openGroupChange was not made');
      return result;
    });
  }

  /** The result of a member change run ahead with the opening read, until it is asked for. */
  private ahead:
    | {
        readonly groupId: string;
        readonly key: string;
        /** Undefined: announced, not run ahead (SQLite, or values not inlinable). */
        readonly rows: readonly unknown[] | undefined;
      }
    | undefined;

  /**
   * The rows of the member change `key` of team `groupId` if it was run ahead
   * (openGroupChange), once; another member change of that team first is a caller's
   * mistake that must not commit.
   */
  private takeAhead(groupId: string, key: string | undefined): readonly unknown[] | undefined {
    const ahead = this.ahead;
    if (ahead === undefined || ahead.groupId !== groupId) return undefined;
    this.ahead = undefined;
    if (ahead.key !== key)
      throw new Error('a member change other than the one announced to openGroupChange');
    return ahead.rows;
  }

  /**
   * The account filter of a query that names its rows by key (`id IN (...)`); see
   * SqlDialect.keyedColumn (on SQLite, 100k index entries per page of 100 at 100k users
   * otherwise, docs/benchmarks.md).
   */
  private byKey(column: string) {
    return this.dialect.keyedColumn(column) as RawBuilder<string>;
  }

  /** The row lock a read takes, where the database has row locks (SQLite has one writer at a time). */
  private lockOf(options: GetOptions): RowLock | undefined {
    if (!this.dialect.rowLocks) return undefined;
    return options.lock ?? (options.forUpdate === true ? 'update' : undefined);
  }

  /**
   * A statement text of this dialect, built once per `key` and registered as preparable
   * (pg-prepared.ts); `param(n)` is the dialect's n-th placeholder.
   */
  private cachedText(key: string, build: (param: (n: number) => string) => string): string {
    const cacheKey = `${this.dialectName}:${key}`;
    let text = lookupQueries.get(cacheKey);
    if (text === undefined) {
      text = preparable(build((n) => this.dialect.placeholder(n)));
      lookupQueries.set(cacheKey, text);
    }
    return text;
  }

  /** The dialect's name, which keys per-dialect caches. */
  private get dialectName(): DialectName {
    return this.dialect.name;
  }

  async getUser(
    id: string,
    options: GetOptions & { related?: boolean } = {},
  ): Promise<UserRow | undefined> {
    const read = this.userRead(id, options);
    // Read-only and one statement: on SQLite outside a transaction, without Kysely's executor.
    const [row] = await readRows<UsersTable>(this.db, read.text, read.parameters);
    return row === undefined ? undefined : toUser(row);
  }

  /** The statement getUser runs (`$1` the account, `$2` the user). */
  private userRead(id: string, options: GetOptions & { related?: boolean }): Statement {
    const lock = this.lockOf(options);
    const related = options.related === true;
    const text = this.cachedText(`getUser:${lock ?? ''}:${related}`, (param) => {
      // One statement: the row, its SCIM teams (ordered by name) and its manager's name.
      const extra = related ? `, ${relatedColumns(this.dialect, 'users')}` : '';
      return `SELECT users.*${extra} FROM users WHERE users.account_id = ${param(1)} AND users.id = ${param(2)}${this.dialect.lockClause(lock)}`;
    });
    return { text, parameters: [this.accountId, id] };
  }

  openUserChange(id: string, options: GetOptions & { related?: boolean } = {}) {
    return this.openChange(this.userRead(id, options), undefined, toUser);
  }

  openGroupChange(id: string, options: GetOptions = {}, ahead?: MemberChangeAhead) {
    const { lock, read } = this.groupReads(id, options);
    const announced = ahead && { groupId: id, change: ahead };
    return lock === undefined
      ? this.openChange(read, undefined, toGroup, announced)
      : this.openChange(lock, read, toGroup, announced);
  }

  async memberChangeAtOnce(
    groupId: string,
    change: MemberChangeAhead,
    at: string,
  ): Promise<MemberChangeDone | undefined> {
    const shards = this.dialect.teamVersionShards;
    // PostgreSQL (row locks, version shards), outside a transaction, for an account this
    // process knows not to map teams (those lock the account first: openChange).
    if (!this.dialect.rowLocks || shards === 0 || this.inTransaction) return undefined;
    if (mapsTeams(this.accountId) !== false) return undefined;
    if (change.ids.length === 0 || change.ids.length > CHUNK) return undefined;
    const text = this.cachedText(
      'memberChangeAtOnce',
      (param) =>
        `SELECT outcome, settings, team_version, member_id, member_type FROM roster_member_patch(${param(1)}, ${param(2)}, ${param(3)}, ${param(4)}::text[], ${param(5)}::text, ${param(6)}::smallint)`,
    );
    const parameters = [
      this.accountId,
      groupId,
      change.kind,
      change.ids,
      at,
      Math.floor(Math.random() * shards),
    ];
    type Row = {
      outcome: 'changed' | 'unchanged' | 'fallback';
      settings: string | null;
      team_version: number | string | null;
      member_id: string | null;
      member_type: 'User' | 'Group' | null;
    };
    // One autocommitted statement (migration 096): a deadlock ends it with nothing done.
    const rows = await retried(async () => readRows<Row>(this.db, text, parameters));
    const [first] = rows;
    if (first === undefined) throw new Error('roster_member_patch answered no row');
    if (first.settings !== null)
      rememberMapping(this.accountId, accountState({ seats: null, settings: first.settings }));
    if (first.outcome === 'fallback') return undefined;
    const version = Number(first.team_version);
    if (first.outcome === 'unchanged') return { version, changed: [] };
    // Committed with events: the sequencer numbers them (as after a transaction).
    this.dialect.eventsInserted(this.db, this.accountId);
    return {
      version,
      changed: rows.map((row) => ({ id: row.member_id!, type: row.member_type! })),
    };
  }

  /**
   * The account (as workspace.readAccount) and the row `first` reads, or `then` reads when
   * `first` found it (a lock taken apart from the read). On PostgreSQL, in a transaction,
   * for an account not known to map teams: one statement, the account's columns joined to
   * `first`'s row (its `$1` is the account), which goes out with the transaction's BEGIN
   * (pg-fold.ts): a round trip fewer for every PUT, PATCH and DELETE. An account that maps
   * teams must be locked before anything else (readAccount): when the statement finds one,
   * the transaction runs again (AccountLockFirst), this time the account read first, as
   * this process then remembers for the account.
   */
  private async openChange<T>(
    first: Statement,
    then: Statement | undefined,
    convert: (row: never) => T,
    ahead?: { groupId: string; change: MemberChangeAhead },
  ): Promise<{ account: AccountState; row: T | undefined }> {
    // Announced whether or not it runs ahead (`rows`): the caller must make it either way.
    const announce = (rows?: readonly unknown[]) => {
      if (ahead !== undefined)
        this.ahead = { groupId: ahead.groupId, key: aheadKey(ahead.groupId, ahead.change), rows };
    };
    const found = async (statement: Statement) =>
      (await readRows<Record<string, unknown>>(this.db, statement.text, statement.parameters))[0];
    const finish = async (row: Record<string, unknown> | undefined) => {
      if (row !== undefined && then !== undefined) row = await found(then);
      return row === undefined ? undefined : (convert as (row: unknown) => T)(row);
    };
    if (!this.dialect.rowLocks || !this.inTransaction || mapsTeams(this.accountId) !== false) {
      announce();
      const account = await this.workspace.readAccount();
      return { account, row: await finish(await found(first)) };
    }
    // Run ahead only when one statement reads the row (with a lock read apart, announced only).
    const { joined, aheadRows } = await this.openingRead(
      first,
      then === undefined ? ahead : undefined,
    );
    announce(aheadRows);
    if (joined === undefined) throw new Error(`account ${this.accountId} does not exist`);
    const account = accountState({
      seats: joined[ACCOUNT_SEATS],
      settings: joined[ACCOUNT_SETTINGS],
    });
    rememberMapping(this.accountId, account);
    if (mapsTeamsOf(account)) throw new AccountLockFirst();
    const row = joined[ROW_FOUND] === true ? joined : undefined;
    return { account, row: await finish(row) };
  }

  /**
   * The account's row joined to `first`'s. With a member change `ahead` (PostgreSQL, its
   * values inlinable): the change too, in the same round trip (pg-fold.ts), its rows
   * (`aheadRows`) kept for the caller's insertUserMembers / deleteMembers of it. It runs whatever the read finds: for
   * a team that does not exist in the account it changes nothing (the statements check),
   * and whatever it changed is rolled back when the caller turns back, which it does by
   * throwing (a team the read does not find, such as a mapped team, is a 404).
   */
  private async openingRead(
    first: Statement,
    ahead: { groupId: string; change: MemberChangeAhead } | undefined,
  ): Promise<{
    joined: Record<string, unknown> | undefined;
    aheadRows?: readonly unknown[];
  }> {
    if (ahead !== undefined && ahead.change.ids.length > 0 && ahead.change.ids.length <= CHUNK) {
      const text = openingWithMemberChange(first.text, ahead.change.kind);
      const parameters = [
        ...first.parameters,
        ...memberParameters(this.accountId, ahead.groupId, ahead.change),
      ];
      if (
        text !== undefined &&
        partsParameters(text) === parameters.length &&
        inlineParameters(text, parameters) !== undefined
      ) {
        const result = await this.db.executeQuery<{ rows: unknown[] }>(
          CompiledQuery.raw(text, parameters),
        );
        const [read, change] = result.rows;
        if (read === undefined || change === undefined)
          throw new Error('the opening read and its member change answered no parts');
        return {
          joined: read.rows[0] as Record<string, unknown> | undefined,
          aheadRows: change.rows,
        };
      }
    }
    const text = withAccountRow(first.text);
    const [joined] = await readRows<Record<string, unknown>>(this.db, text, first.parameters);
    return { joined };
  }

  async listUsers(query: ListQuery): Promise<Page<UserRow>> {
    if (query.sortBy === undefined && query.limit > 0) return this.userPage(query);
    return this.listPage('users', USER_MAPPING, columnList(USER_COLUMNS), sql``, query, toUser);
  }

  /**
   * A page of a filtered or sorted list, read as keys, then rows by key (pageByKeys):
   * the page's keys from the (account_id, created_at, id) index, then only those rows,
   * so a deep page skips index entries, not stored resources. `scope`: further
   * conditions (` AND ...`) on which rows are listed.
   */
  private async listPage<T>(
    table: 'users' | 'groups',
    mapping: ResourceMapping,
    /** The select list of the rows but `data` (columnList, and expressions `AS` named). */
    columns: RawBuilder<unknown>,
    scope: RawBuilder<unknown>,
    query: ListQuery,
    /** From a row of `columns` and its document. */
    convert: (row: never) => T,
  ): Promise<Page<T>> {
    type R = { id: string; data: string | null; data_size: number | null };
    const t = (column: string) => sql.ref(`${table}.${column}`);
    const filter =
      query.filter === undefined
        ? sql``
        : sql` AND ${compileFilter(query.filter, mapping, this.dialect, this.accountId)}`;
    const where = sql`${t('account_id')} = ${this.accountId}${scope}${filter}`;
    const sort =
      query.sortBy === undefined
        ? sql``
        : sql`${compileSort(query.sortBy, mapping, this.dialect, query.descending)}, `;
    // Under a byte budget, no documents yet: withinBudget reads them for the kept rows.
    const data = query.maxBytes === undefined ? t('data') : sql`NULL`;
    const page = await pageOf(
      query,
      async () =>
        Number(
          (
            await sql<{
              n: number;
            }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE ${where}`.execute(this.db)
          ).rows[0]!.n,
        ),
      () =>
        pageByKeys(
          async () =>
            (
              await sql<{
                id: string;
              }>`SELECT ${t('id')} AS id FROM ${sql.table(table)} WHERE ${where}
                ORDER BY ${sort}${t('created_at')}, ${t('id')} LIMIT ${query.limit} OFFSET ${query.offset}`.execute(
                this.db,
              )
            ).rows.map((row) => row.id),
          async (ids) =>
            (
              await sql<R>`SELECT ${columns}, ${data} AS data, NULL AS data_size
                FROM ${sql.table(table)} WHERE ${this.byKey(`${table}.account_id`)} = ${this.accountId}
                AND ${t('id')} IN (${sql.join(ids)})`.execute(this.db)
            ).rows,
        ),
    );
    return this.withinBudget(table, page, query.maxBytes, convert as (row: R) => T);
  }

  /**
   * An unfiltered page of users in list order, in one statement: the page's keys from the
   * (account_id, created_at, id) index, their rows by primary key, and the total from
   * `accounts.user_count` (kept by triggers), all from one snapshot. A deep page starts
   * from a remembered anchor (see PageAnchors) when no user was inserted or deleted since
   * it was taken, so it skips at most ANCHOR_STEP index entries instead of `offset`.
   */
  private async userPage(query: ListQuery): Promise<Page<UserRow>> {
    const userName = query.offset === 0 ? userNameLookup(query.filter) : undefined;
    if (userName !== undefined) return this.userByName(userName, query);
    const filter =
      query.filter === undefined
        ? undefined
        : compileFilter(query.filter, USER_MAPPING, this.dialect);
    let anchors =
      filter === undefined ? pageAnchors.get(this.dialectName, this.accountId) : undefined;
    if (filter === undefined && anchors === undefined && query.offset >= ANCHOR_STEP) {
      // A deep page without anchors: take them first (one walk of the list-order index,
      // shared by every request of the account that arrives meanwhile), then read the page
      // from its anchor, rather than each request skipping `offset` entries and then
      // walking the index again (ten readers starting an import at once did ten of each).
      await this.rememberAnchors();
      anchors = pageAnchors.get(this.dialectName, this.accountId);
    }
    let used = anchors?.at(query.offset);
    for (let attempt = 0; attempt < 3; attempt++) {
      const page = await this.readUserPage(query, filter, used);
      if (page === undefined) break; // nothing at this offset: counted below
      if (used !== undefined && page.changes !== used.changes) {
        // Users were inserted or deleted since the anchor was taken: positions may have
        // moved, so this page may not be the one at `offset`. Read it again.
        pageAnchors.forget(this.dialectName, this.accountId);
        used = undefined;
        continue;
      }
      if (
        filter === undefined &&
        used === undefined &&
        query.offset >= ANCHOR_STEP &&
        attempt === 0
      )
        await this.rememberAnchors();
      // Filtered: a page shorter than the limit is the last one, so the total follows
      // without a count (lookups by userName never count).
      const total =
        filter === undefined
          ? Number(page.total)
          : page.rows.length < query.limit
            ? query.offset + page.rows.length
            : await this.countUsers(filter);
      return this.withinBudget('users', { total, rows: page.rows }, query.maxBytes, toListedUser);
    }
    if (filter !== undefined)
      return { total: query.offset === 0 ? 0 : await this.countUsers(filter), rows: [] };
    const total = await this.db
      .selectFrom('accounts')
      .select('user_count')
      .where('id', '=', this.accountId)
      .executeTakeFirst();
    return { total: Number(total?.user_count ?? 0), rows: [] };
  }

  /**
   * `userName eq "..."` from the first position (what identity providers send before
   * creating a user): userName is unique per account, case-insensitively (the
   * `user_name_lc` key), so the answer is at most one row and needs neither the list order
   * nor a count. One statement, compiled once per dialect and shape, and on SQLite run
   * without Kysely's executor (sqlite-reads.ts). Same rows and totals as readUserPage.
   */
  private async userByName(userNameLc: string, query: ListQuery): Promise<Page<UserRow>> {
    const inline =
      query.maxBytes === undefined ? undefined : Math.floor(query.maxBytes / query.limit);
    const related = query.related === true;
    const cacheKey = `${this.dialectName}:userByName:${inline !== undefined}:${related}`;
    let text = lookupQueries.get(cacheKey);
    if (text === undefined) {
      // Placeholders numbered in the order they appear (SQLite's `?` are positional).
      let n = 0;
      const param = () => this.dialect.placeholder(++n);
      const columns = USER_COLUMNS.map((c) => c.replace('users.', 'u.')).join(', ');
      // documentBytes is parameterless SQL over the column on both dialects.
      const size = this.dialect.documentBytes(sql`u.data`).compile(this.db).sql;
      const data =
        inline === undefined ? 'u.data' : `CASE WHEN ${size} <= ${param()} THEN u.data END`;
      const extra = related ? `, ${relatedColumns(this.dialect, 'u')}` : '';
      text = `SELECT ${columns}, ${data} AS data, ${inline === undefined ? 'NULL' : size} AS data_size${extra} FROM users u WHERE u.account_id = ${param()} AND u.user_name_lc = ${param()}`;
      lookupQueries.set(cacheKey, preparable(text));
    }
    const parameters =
      inline === undefined ? [this.accountId, userNameLc] : [inline, this.accountId, userNameLc];
    const rows = await readRows<
      Omit<UsersTable, 'password_hash' | 'data'> & {
        data: string | null;
        data_size: number | null;
      }
    >(this.db, text, parameters);
    return this.withinBudget('users', { total: rows.length, rows }, query.maxBytes, toUser);
  }

  private async countUsers(filter: RawBuilder<unknown>): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .where('users.account_id', '=', this.accountId)
      .where(filter as never)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  private async readUserPage(
    query: ListQuery,
    filter: RawBuilder<unknown> | undefined,
    from: Anchor | undefined,
  ) {
    const inline =
      query.maxBytes === undefined ? undefined : Math.floor(query.maxBytes / query.limit);
    // Where the document must be turned into text (PostgreSQL's jsonb), once, for its size
    // and for the answer, instead of once for each.
    const docText =
      inline === undefined ? undefined : this.dialect.documentText?.(sql`u.data`, 'd');
    const doc = docText === undefined ? sql`u.data` : sql`d.doc`;
    const size =
      docText === undefined ? this.dialect.documentBytes(sql`u.data`) : sql`octet_length(d.doc)`;
    const data = inline === undefined ? doc : sql`CASE WHEN ${size} <= ${inline} THEN ${doc} END`;
    const start =
      from === undefined ? sql`` : sql` AND (created_at, id) >= (${from.createdAt}, ${from.id})`;
    const where = filter === undefined ? sql`` : sql` AND ${filter}`;
    const skip = from === undefined ? query.offset : query.offset - from.position;
    const related =
      query.related === true ? sql`, ${sql.raw(relatedColumns(this.dialect, 'u'))}` : sql``;
    const columns = sql.join(USER_COLUMNS.map((c) => sql.ref(c.replace('users.', 'u.'))));
    // The page's rows by the dialect's row key (SQLite: rowid, from the list-order index
    // itself) rather than by primary key.
    const rowKey = sql.raw(this.dialect.rowKey ?? 'id');
    const statement = sql<PageRow>`
        SELECT ${columns}, ${data} AS data, ${inline === undefined ? sql`NULL` : size} AS data_size,
          a.user_count AS total, a.user_changes AS changes${related}
        FROM (
          SELECT ${rowKey} AS k FROM users WHERE users.account_id = ${this.accountId}${start}${where}
          ORDER BY created_at, id LIMIT ${query.limit} OFFSET ${skip}
        ) k
        JOIN users u ON u.${rowKey} = k.k${docText ?? sql``}
        CROSS JOIN (SELECT user_count, user_changes FROM accounts WHERE id = ${this.accountId}) a
        ORDER BY u.created_at, u.id`.compile(this.db);
    // One read-only statement: on SQLite outside a transaction, without Kysely's executor.
    const rows = await readRows<PageRow>(this.db, statement.sql, statement.parameters);
    if (rows.length === 0) return undefined;
    return { total: Number(rows[0]!.total), changes: Number(rows[0]!.changes), rows };
  }

  /**
   * Takes every ANCHOR_STEP-th key of the account's list order, with the change counter,
   * in one statement. Outside a transaction, requests that ask while a build of the
   * account's anchors is running wait for it instead of starting their own (a failed
   * build leaves them without anchors: they read their page by offset).
   */
  private async rememberAnchors(): Promise<void> {
    // Never inside a transaction: its uncommitted rows would become every request's anchors.
    if (this.inTransaction) return;
    const key = `${this.dialectName}:${this.accountId}`;
    const running = anchorBuilds.get(key);
    if (running !== undefined) return running;
    if (!pageAnchors.mayBuild(this.dialectName, this.accountId)) return;
    // Outside the query scope of the request that starts it: that request's client going
    // away must not cancel the build others wait for. A failed build (a statement timeout
    // on a very large account) counts as a build for the once-a-second limit, so deep
    // pages then read by offset instead of retrying it before each page.
    const build = queryScope
      .exit(() => this.buildAnchors())
      .catch(() => pageAnchors.stamp(this.dialectName, this.accountId))
      .finally(() => anchorBuilds.delete(key));
    anchorBuilds.set(key, build);
    return build;
  }

  private async buildAnchors(): Promise<void> {
    if (!pageAnchors.mayBuild(this.dialectName, this.accountId)) return;
    const rows = (
      await sql<{ created_at: string; id: string; changes: number }>`
        SELECT k.created_at, k.id, a.user_changes AS changes
        FROM (
          SELECT created_at, id, row_number() OVER (ORDER BY created_at, id) - 1 AS n
          FROM users WHERE account_id = ${this.accountId}
        ) k
        CROSS JOIN (SELECT user_changes FROM accounts WHERE id = ${this.accountId}) a
        WHERE k.n % ${ANCHOR_STEP} = 0
        ORDER BY k.created_at, k.id`.execute(this.db)
    ).rows;
    if (rows.length === 0) return;
    pageAnchors.set(this.dialectName, this.accountId, Number(rows[0]!.changes), rows);
  }

  async insertUser(user: NewUser): Promise<void> {
    const values = {
      id: user.id,
      account_id: this.accountId,
      ...userColumnValues(user),
      created_at: user.createdAt,
      updated_at: user.updatedAt,
      version: 1,
      data: JSON.stringify(user.data),
      password_hash: user.passwordHash,
    };
    const emails = this.emailValues(user.emails);
    try {
      if (emails !== undefined) {
        // PostgreSQL: the user and its emails in one statement (one round trip).
        const insert = this.db
          .with('u', (db) => db.insertInto('users').values(values).returning('id'))
          .insertInto('user_emails')
          .columns(['account_id', 'user_id', 'value_lc', 'type_lc', 'is_primary'])
          .expression(
            () =>
              sql`SELECT ${this.accountId}, u.id, v.value_lc, v.type_lc, v.is_primary FROM u, (VALUES ${emails}) AS v(value_lc, type_lc, is_primary)` as never,
          );
        // One email (the usual user): a fixed text (with or without a password), prepared.
        if (user.emails.length === 1) await this.db.executeQuery(prepared(insert));
        else await insert.execute();
        return;
      }
      await this.db.insertInto('users').values(values).execute();
    } catch (error) {
      throw this.mapUserConflict(error, user.userName);
    }
    await this.writeEmails(user.id, user.emails);
  }

  /**
   * PostgreSQL: a user's emails as a VALUES list for a statement that also writes the
   * user; undefined on SQLite (in-process statements cost no round trip), with no
   * emails, or with more than one statement's parameters take.
   */
  private emailValues(emails: NewUser['emails']) {
    if (!this.dialect.roundTrips || emails.length === 0 || emails.length > 1000) return undefined;
    return sql.join(
      emails.map((e) => {
        const row = emailColumns(e);
        return sql`(${row.value_lc}, ${row.type_lc}::text, ${row.is_primary}::int)`;
      }),
    );
  }

  async updateUser(user: UserUpdate, expectedVersion: number, settled = false): Promise<boolean> {
    const set = {
      ...userColumnValues(user),
      updated_at: user.updatedAt,
      version: user.version,
      data: JSON.stringify(user.data),
      ...(user.passwordHash !== undefined ? { password_hash: user.passwordHash } : {}),
    };
    const update = (db: Kysely<Database> | Transaction<Database>) =>
      db
        .updateTable('users')
        .set(set)
        .where('account_id', '=', this.accountId)
        .where('id', '=', user.id)
        .where('version', '=', expectedVersion);
    if (this.dialect.roundTrips && user.emails.length <= 1000) {
      const count = settled ? 'settled' : 'n';
      // One statement: the row at the expected version, and its emails replaced only when
      // it was written (all parts of a statement see one snapshot: the DELETE does not see
      // the INSERT's rows).
      const emails = this.emailValues(user.emails);
      let result;
      try {
        const statement = this.db
          .with('u', (db) => update(db as never).returning('id'))
          .with('d', (db) =>
            db
              .deleteFrom('user_emails')
              .where('account_id', '=', this.accountId)
              .where('user_id', 'in', (eb) => eb.selectFrom('u').select('u.id'))
              .returning('user_emails.user_id'),
          )
          .with('i', (db) =>
            emails === undefined
              ? db.selectFrom('u').select('u.id')
              : db
                  .insertInto('user_emails')
                  .columns(['account_id', 'user_id', 'value_lc', 'type_lc', 'is_primary'])
                  .expression(
                    sql`SELECT ${this.accountId}, u.id, v.value_lc, v.type_lc, v.is_primary FROM u, (VALUES ${emails}) AS v(value_lc, type_lc, is_primary)` as never,
                  )
                  .returning('user_emails.user_id'),
          )
          .selectFrom('u')
          // Settled (see AccountStore.updateUser), a text of its own: its count is not read.
          .select((eb) => eb.fn.countAll<number>().as(count));
        // One email and no new password (a PATCH as Entra sends them): one fixed text,
        // prepared (its plan is the CTE's three statements).
        if (user.emails.length === 1 && user.passwordHash === undefined) {
          const compiled = prepared(statement);
          if (settled) {
            // Nothing reads its result: in a transaction it goes out with the next
            // statement or COMMIT (pg-fold.ts), which report its error if it has one.
            trailsTransaction(compiled.sql);
            const rows = (await this.db.executeQuery(compiled)).rows as Record<string, unknown>[];
            return rows.length === 0 || Number(rows[0]![count]) === 1;
          }
          result = (await this.db.executeQuery(compiled)).rows[0];
        } else result = await statement.executeTakeFirstOrThrow();
      } catch (error) {
        throw this.mapUserConflict(error, user.userName);
      }
      return Number((result as Record<string, unknown> | undefined)?.[count]) === 1;
    }
    let result;
    try {
      result = await update(this.db).executeTakeFirst();
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
      ...emailColumns(e),
    }));
    for (const batch of bulkChunks(rows, 5))
      await this.db.insertInto('user_emails').values(batch).execute();
  }

  private mapUserConflict(error: unknown, userName: string): unknown {
    return mapDatabaseError(error, {
      unique: () =>
        new DomainError(
          'user_name_taken',
          `A user with userName "${userName}" already exists in this account (userName is unique, case-insensitively).`,
        ),
    });
  }

  async deleteUser(id: string): Promise<boolean> {
    await this.deleteWhere('user_emails', 'user_id', id);
    return (await this.deleteWhere('users', 'id', id)) === 1;
  }

  /** Deletes the account's rows of `table` whose `column` holds `value`; returns how many. */
  private async deleteWhere(
    table: 'users' | 'user_emails' | 'groups' | 'group_members',
    column: 'id' | 'user_id' | 'group_id' | 'member_id',
    value: string,
  ): Promise<number> {
    const result =
      await sql`DELETE FROM ${sql.table(table)} WHERE account_id = ${this.accountId} AND ${sql.ref(column)} = ${value}`.execute(
        this.db,
      );
    return Number(result.numAffectedRows ?? 0);
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
        .where(this.byKey('account_id'), '=', this.accountId)
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
                  this.dialectName,
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

  /**
   * `version` and `shard_at` of the team row `alias` for a select list: the row's version
   * plus the member changes counted in its version shards (SqlDialect.teamVersionShards),
   * read in the statement's snapshot, like its members.
   */
  private groupVersion(alias: string): RawBuilder<unknown> {
    const t = (column: string) => sql.ref(`${alias}.${column}`);
    if (this.dialect.teamVersionShards === 0)
      return sql`${t('version')} AS version, NULL AS shard_at`;
    return sql`${t('version')} + COALESCE((SELECT sum(s.n) FROM group_version_shards s WHERE s.group_id = ${t('id')}), 0) AS version,
      (SELECT max(s.updated_at) FROM group_version_shards s WHERE s.group_id = ${t('id')}) AS shard_at`;
  }

  /**
   * A raw statement of a fixed shape, run as a named prepared statement on PostgreSQL
   * (pg-prepared.ts); only for texts that take a few shapes (each takes a registry slot).
   */
  private runPrepared<R>(query: RawBuilder<R>): Promise<QueryResult<R>> {
    const compiled = query.compile(this.db);
    preparable(compiled.sql);
    return this.db.executeQuery(compiled);
  }

  async getGroup(id: string, options: GetOptions = {}): Promise<GroupRow | undefined> {
    const { lock, read } = this.groupReads(id, options);
    if (lock !== undefined && (await readRows(this.db, lock.text, lock.parameters)).length === 0)
      return undefined;
    const [row] = await readRows<GroupSelection>(this.db, read.text, read.parameters);
    return row === undefined ? undefined : toGroup(row);
  }

  /**
   * The statements getGroup runs (`$1` the account, `$2` the team): `read`, after `lock`
   * when the lock is taken by a statement of its own (which then finds the team).
   */
  private groupReads(
    id: string,
    options: GetOptions,
  ): { lock: Statement | undefined; read: Statement } {
    let lock = this.lockOf(options);
    const parameters = [this.accountId, id];
    let locking: Statement | undefined;
    if (lock === 'update' && this.dialect.teamVersionShards > 0) {
      // The exact version, for If-Match and for a write of the team. FOR UPDATE conflicts
      // with the FOR KEY SHARE every member change holds on the team row from its start to
      // its end (PostgreSQL, "Explicit Locking", row-level lock modes: FOR UPDATE conflicts
      // with every other row lock mode; FOR NO KEY UPDATE would not conflict with
      // FOR KEY SHARE). So member changes in flight commit first and new ones wait until
      // this transaction ends. The version is read by the next statement: its snapshot,
      // taken after the lock was granted, counts every member change committed before.
      // One statement would not do: its snapshot is taken before it waits for the lock,
      // and a member change does not update the team row, so nothing is re-read after it.
      const text = this.cachedText(
        'lockGroup',
        (param) =>
          `SELECT groups.id FROM groups WHERE groups.account_id = ${param(1)} AND groups.id = ${param(2)} AND groups.origin = 'scim' FOR UPDATE`,
      );
      locking = { text, parameters };
      lock = undefined;
    }
    const text = this.cachedText(`getGroup:${lock ?? ''}`, (param) => {
      // Parameterless SQL over the row's columns.
      const version = this.groupVersion('groups').compile(this.db).sql;
      return `SELECT ${GROUP_COLUMNS.join(', ')}, groups.data, ${version} FROM groups WHERE groups.account_id = ${param(1)} AND groups.id = ${param(2)} AND groups.origin = 'scim'${this.dialect.lockClause(lock)}`;
    });
    return { lock: locking, read: { text, parameters } };
  }

  async listGroups(query: ListQuery): Promise<Page<GroupRow>> {
    // `displayName eq "..."` (how Entra and Okta find a team before they change it):
    // team names are unique per account, case-insensitively (groups_account_display_name_uq
    // on display_name_lc, whatever the team's origin), so at most one row: one statement,
    // no count, no sort.
    const displayName =
      query.offset === 0 && query.limit > 0
        ? uniqueNameLookup(query.filter, 'displayName', GROUP_MAPPING, 'display_name_lc')
        : undefined;
    if (displayName !== undefined) return this.groupByName(displayName, query);
    // SCIM serves the identity provider's teams; teams built by mapping live in the product API.
    const scim = sql` AND groups.origin = 'scim'`;
    const columns = sql`${columnList(GROUP_COLUMNS)}, ${this.groupVersion('groups')}`;
    return this.listPage('groups', GROUP_MAPPING, columns, scim, query, toGroup);
  }

  /**
   * The SCIM team named `displayNameLc` (folded), as a page of listGroups: one statement,
   * compiled once per dialect and budget shape, on SQLite run without Kysely's executor
   * (sqlite-reads.ts), on PostgreSQL as a named prepared statement. Same rows, versions and
   * totals as listPage.
   */
  private async groupByName(displayNameLc: string, query: ListQuery): Promise<Page<GroupRow>> {
    const inline =
      query.maxBytes === undefined ? undefined : Math.floor(query.maxBytes / query.limit);
    const cacheKey = `${this.dialectName}:groupByName:${inline !== undefined}`;
    let text = lookupQueries.get(cacheKey);
    if (text === undefined) {
      // Placeholders numbered in the order they appear (SQLite's `?` are positional).
      let n = 0;
      const param = () => this.dialect.placeholder(++n);
      // Both are parameterless SQL over the row's columns.
      const version = this.groupVersion('groups').compile(this.db).sql;
      const size = this.dialect.documentBytes(sql`groups.data`).compile(this.db).sql;
      const data =
        inline === undefined
          ? 'groups.data'
          : `CASE WHEN ${size} <= ${param()} THEN groups.data END`;
      text = `SELECT ${GROUP_COLUMNS.join(', ')}, ${version}, ${data} AS data, ${inline === undefined ? 'NULL' : size} AS data_size FROM groups WHERE groups.account_id = ${param()} AND groups.display_name_lc = ${param()} AND groups.origin = 'scim'`;
      lookupQueries.set(cacheKey, preparable(text));
    }
    const parameters =
      inline === undefined
        ? [this.accountId, displayNameLc]
        : [inline, this.accountId, displayNameLc];
    const rows = await readRows<GroupSelection & { data: string | null; data_size: number | null }>(
      this.db,
      text,
      parameters,
    );
    return this.withinBudget('groups', { total: rows.length, rows }, query.maxBytes, toGroup);
  }

  async memberCounts(groupIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const batch of chunks([...new Set(groupIds)])) {
      const rows = await this.db
        .selectFrom('group_members')
        .select(['group_id', (eb) => eb.fn.countAll<number>().as('n')])
        .where(this.byKey('account_id'), '=', this.accountId)
        .where('group_id', 'in', batch)
        .groupBy('group_id')
        .execute();
      for (const row of rows) out.set(row.group_id, Number(row.n));
    }
    return out;
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
      const size = this.dialect.documentBytes(data) as RawBuilder<number>;
      const sized = new Map<string, { size: number; data: string | null }>();
      // Sizes read with the page (userPage): no second read of the same rows.
      const known = rows.every((r) => r.data_size !== null);
      if (known) for (const r of rows) sized.set(r.id, { size: Number(r.data_size), data: r.data });
      for (const batch of known ? [] : chunks(rows.map((r) => r.id))) {
        const found = await this.db
          .selectFrom(table)
          .select([
            `${table}.id as id`,
            size.as('size'),
            sql<string | null>`CASE WHEN ${size} <= ${inline} THEN ${data} END`.as('data'),
          ])
          .where(this.byKey(`${table}.account_id`), '=', this.accountId)
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
      rows = rows.slice(0, keep).map((r) => {
        const data = sized.get(r.id)?.data ?? null;
        return data === r.data ? r : { ...r, data }; // read with the page: no copy
      });
      const missing = rows.filter((r) => r.data === null).map((r) => r.id);
      if (missing.length > 0) {
        const documents = new Map<string, string>();
        for (const batch of chunks(missing)) {
          const found = await this.db
            .selectFrom(table)
            .select(['id', 'data'])
            .where(this.byKey('account_id'), '=', this.accountId)
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
          ...groupColumnValues(group),
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
    // The version is the row's plus its shards' (groupVersion): the row's moves by the
    // difference. The caller holds the team FOR UPDATE (getGroup), so no member change
    // counts a shard meanwhile.
    const current =
      this.dialect.teamVersionShards === 0
        ? sql`version`
        : sql`version + COALESCE((SELECT sum(s.n) FROM group_version_shards s WHERE s.group_id = groups.id), 0)`;
    try {
      const result = await this.db
        .updateTable('groups')
        .set({
          ...groupColumnValues(group),
          updated_at: group.updatedAt,
          version: sql<number>`version + ${group.version - expectedVersion}`,
          data: JSON.stringify(group.data),
        })
        .where('account_id', '=', this.accountId)
        .where('id', '=', group.id)
        .where(sql<boolean>`${current} = ${expectedVersion}`)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    } catch (error) {
      throw this.mapGroupConflict(error, group.displayName);
    }
  }

  private mapGroupConflict(error: unknown, displayName: string): unknown {
    return mapDatabaseError(error, {
      unique: () =>
        new DomainError(
          'team_name_taken',
          `A group with displayName "${displayName}" already exists in this account (team names are unique, case-insensitively).`,
        ),
    });
  }

  async deleteGroup(id: string): Promise<boolean> {
    await this.removeAllMembers(id);
    await this.removeFromAllGroups(id);
    return (await this.deleteWhere('groups', 'id', id)) === 1;
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
        .where(this.byKey('gm.account_id'), '=', this.accountId)
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
      if (this.dialect.rowLocks) {
        // One statement, and KEY SHARE on what it finds: a user or team being deleted
        // meanwhile (its DELETE transaction holds FOR UPDATE) is waited for and then not
        // found, so no membership of a deleted member can commit. Updates of the rows
        // (NO KEY UPDATE) are not waited for.
        const rows = await this.runPrepared(sql<{ id: string; kind: 'User' | 'Group' }>`
          SELECT id, 'User' AS kind FROM (
            SELECT id FROM users WHERE account_id = ${this.accountId} AND id = ANY(${batch}::text[]) FOR KEY SHARE
          ) u
          UNION ALL
          SELECT id, 'Group' AS kind FROM (
            SELECT id FROM groups WHERE account_id = ${this.accountId} AND id = ANY(${batch}::text[]) AND origin = 'scim' FOR KEY SHARE
          ) g`);
        for (const row of rows.rows) out.set(row.id, row.kind);
        continue;
      }
      const users = await this.db
        .selectFrom('users')
        .select('id')
        .where(this.byKey('account_id'), '=', this.accountId)
        .where('id', 'in', batch)
        .execute();
      for (const row of users) out.set(row.id, 'User');
      const groups = await this.db
        .selectFrom('groups')
        .select('id')
        .where(this.byKey('account_id'), '=', this.accountId)
        .where('id', 'in', batch)
        .where('origin', '=', 'scim')
        .execute();
      for (const row of groups) out.set(row.id, 'Group');
    }
    return out;
  }

  async insertUserMembers(
    groupId: string,
    ids: readonly string[],
    at: string,
  ): Promise<{
    known: Map<string, 'User' | 'Group'>;
    added: { id: string; type: 'User' | 'Group' }[] | undefined;
  }> {
    const change = { kind: 'add', ids, at } as const;
    const ranAhead = this.takeAhead(groupId, aheadKey(groupId, change));
    if (ranAhead === undefined && (!this.dialect.roundTrips || ids.length > CHUNK)) {
      const known = await this.resolveMemberIds(ids);
      const users = ids.length === known.size && [...known.values()].every((t) => t === 'User');
      if (!users) return { known, added: undefined };
      const added = await this.insertMembers(
        groupId,
        ids.map((id) => ({ id, type: 'User' as const })),
        at,
      );
      return { known, added };
    }
    // PostgreSQL: one statement (MEMBER_TEXTS.add), or its rows if openGroupChange ran it
    // ahead. All parts of the statement see one snapshot, and the insert reads the locked
    // rows of `r`.
    const known = new Map<string, 'User' | 'Group'>();
    const added: { id: string; type: 'User' | 'Group' }[] = [];
    const rows = (ranAhead ??
      (
        await this.db.executeQuery(
          CompiledQuery.raw(memberText('add'), memberParameters(this.accountId, groupId, change)),
        )
      ).rows) as { id: string; kind: 'User' | 'Group'; added: boolean }[];
    for (const row of rows) {
      known.set(row.id, row.kind);
      if (row.added) added.push({ id: row.id, type: 'User' });
    }
    const users = ids.length === known.size && [...known.values()].every((t) => t === 'User');
    if (!users) return { known, added: undefined };
    const order = new Map(ids.map((id, i) => [id, i]));
    return { known, added: added.sort((a, b) => order.get(a.id)! - order.get(b.id)!) };
  }

  async insertMembers(
    groupId: string,
    members: readonly { id: string; type: 'User' | 'Group' }[],
    at: string,
  ): Promise<{ id: string; type: 'User' | 'Group' }[]> {
    const out: { id: string; type: 'User' | 'Group' }[] = [];
    if (members.length === 0) return out;
    if (!this.dialect.roundTrips) {
      // See addMembers: never a row under another account's group id.
      if (!(await this.ownsGroup(groupId))) return out;
    }
    for (const batch of chunks(members)) {
      let rows: { member_id: string; member_type: string }[];
      if (this.dialect.roundTrips) {
        // The ownership check and the insert in one statement.
        const values = sql.join(batch.map((m) => sql`(${m.id}, ${m.type})`));
        const insert = sql<{ member_id: string; member_type: string }>`
            INSERT INTO group_members (account_id, group_id, member_id, member_type, created_at)
            SELECT ${this.accountId}, ${groupId}, v.id, v.type, ${at}
            FROM (VALUES ${values}) AS v(id, type)
            WHERE EXISTS (SELECT 1 FROM groups WHERE account_id = ${this.accountId} AND id = ${groupId})
            ON CONFLICT (group_id, member_id) DO NOTHING
            RETURNING member_id, member_type`;
        // One member (Entra's and Okta's usual change): one fixed text, prepared.
        rows = (batch.length === 1 ? await this.runPrepared(insert) : await insert.execute(this.db))
          .rows;
      } else {
        rows = await this.insertMemberRows(groupId, batch, at)
          .returning(['member_id', 'member_type'])
          .execute();
      }
      for (const row of rows)
        out.push({ id: row.member_id, type: row.member_type === 'Group' ? 'Group' : 'User' });
    }
    // In the order asked for (RETURNING gives no order).
    const order = new Map(members.map((m, i) => [m.id, i]));
    return out.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  }

  async deleteMembers(
    groupId: string,
    ids?: readonly string[],
  ): Promise<{ id: string; type: 'User' | 'Group' }[]> {
    const unique = ids === undefined ? undefined : [...new Set(ids)];
    // Run ahead by openGroupChange, or now, batch by batch.
    const ranAhead = this.takeAhead(
      groupId,
      unique === undefined ? undefined : aheadKey(groupId, { kind: 'remove', ids: unique }),
    ) as { member_id: string; member_type: string }[] | undefined;
    const deleted = ranAhead ?? (await this.deleteMemberRows(groupId, unique));
    const out = deleted.map((row) => ({
      id: row.member_id,
      type: row.member_type === 'Group' ? ('Group' as const) : ('User' as const),
    }));
    if (ids !== undefined) {
      const order = new Map(ids.map((id, i) => [id, i]));
      out.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    }
    return out;
  }

  /** deleteMembers' statements: `ids` in batches (every membership of the team when undefined). */
  private async deleteMemberRows(
    groupId: string,
    ids: readonly string[] | undefined,
  ): Promise<{ member_id: string; member_type: string }[]> {
    if (ids === undefined) {
      return this.db
        .deleteFrom('group_members')
        .where('account_id', '=', this.accountId)
        .where('group_id', '=', groupId)
        .returning(['member_id', 'member_type'])
        .execute();
    }
    const rows: { member_id: string; member_type: string }[] = [];
    for (const batch of chunks(ids)) {
      if (this.dialect.roundTrips) {
        // PostgreSQL: one text whatever the batch's size (prepared).
        const change = { kind: 'remove', ids: batch } as const;
        const result = await this.db.executeQuery<{ member_id: string; member_type: string }>(
          CompiledQuery.raw(
            memberText('remove'),
            memberParameters(this.accountId, groupId, change),
          ),
        );
        rows.push(...result.rows);
      } else {
        rows.push(
          ...(await this.db
            .deleteFrom('group_members')
            .where('account_id', '=', this.accountId)
            .where('group_id', '=', groupId)
            .where('member_id', 'in', batch)
            .returning(['member_id', 'member_type'])
            .execute()),
        );
      }
    }
    return rows;
  }

  async countGroupChange(id: string, at: string): Promise<void> {
    const shards = this.dialect.teamVersionShards;
    if (shards === 0) {
      await this.db
        .updateTable('groups')
        .set((eb) => ({ version: eb('version', '+', 1), updated_at: at }))
        .where('account_id', '=', this.accountId)
        .where('id', '=', id)
        .where('origin', '=', 'scim')
        .execute();
      return;
    }
    // One shard of the team's version, chosen at random, counts the change: the team row
    // is not updated, so concurrent member changes of the team (which hold KEY SHARE on
    // it) do not wait for each other's COMMIT, unless two pick the same shard. Nothing
    // reads its result, so on PostgreSQL it goes out with the transaction's next statement
    // (pg-fold.ts), the events insert and COMMIT, instead of a round trip of its own. Only
    // for a SCIM team of this account: the shards' key is the team's id alone.
    const text = this.cachedText('countGroupChange', (param) =>
      trailsTransaction(
        `INSERT INTO group_version_shards AS v (account_id, group_id, shard, n, updated_at) SELECT groups.account_id, groups.id, ${param(3)}::smallint, 1, ${param(4)}::text FROM groups WHERE groups.account_id = ${param(1)} AND groups.id = ${param(2)} AND groups.origin = 'scim' ON CONFLICT (group_id, shard) DO UPDATE SET n = v.n + 1, updated_at = excluded.updated_at`,
      ),
    );
    const shard = Math.floor(Math.random() * shards);
    await this.db.executeQuery(CompiledQuery.raw(text, [this.accountId, id, shard, at]));
  }

  /** The team `groupId` belongs to this account: one key lookup. */
  private async ownsGroup(groupId: string): Promise<boolean> {
    const owned = await this.db
      .selectFrom('groups')
      .select('id')
      .where('account_id', '=', this.accountId)
      .where('id', '=', groupId)
      .executeTakeFirst();
    return owned !== undefined;
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
    if (!(await this.ownsGroup(groupId))) return 0;
    let added = 0;
    for (const batch of chunks(members)) {
      const result = await this.insertMemberRows(groupId, batch, at).executeTakeFirst();
      added += Number(result.numInsertedOrUpdatedRows ?? 0);
    }
    return added;
  }

  /** INSERT of memberships of a team, those already there left alone. */
  private insertMemberRows(
    groupId: string,
    members: readonly { id: string; type: 'User' | 'Group' }[],
    at: string,
  ) {
    return this.db
      .insertInto('group_members')
      .values(
        members.map((m) => ({
          account_id: this.accountId,
          group_id: groupId,
          member_id: m.id,
          member_type: m.type,
          created_at: at,
        })),
      )
      .onConflict((oc) => oc.columns(['group_id', 'member_id']).doNothing());
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

  removeAllMembers(groupId: string): Promise<number> {
    return this.deleteWhere('group_members', 'group_id', groupId);
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
    await this.deleteWhere('group_members', 'member_id', memberId);
  }
}
