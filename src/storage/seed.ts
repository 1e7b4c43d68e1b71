import { randomUUID } from 'node:crypto';
import SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { normalizeResource } from '../core/resource/normalize.js';
import type { JsonObject } from '../core/resource/values.js';
import {
  GROUP_INDEX,
  groupIndexedValues,
  USER_INDEX,
  userIndexedValues,
} from '../core/resource/indexed-columns.js';
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA_ID,
  USER_RESOURCE,
  USER_SCHEMA_ID,
} from '../core/schemas/rfc7643.js';
import { isPostgresUrl } from '../config.js';
import { openDatabase } from './connect.js';
import { emailColumns, groupColumnValues, indexColumns, userColumnValues } from './columns.js';
import type { Database } from './db-schema.js';

/**
 * Bulk loading for benchmarks and demos: writes users, teams and memberships straight
 * into the tables, in large transactions, without HTTP. Rows have exactly the shape
 * UsersService.create / GroupsService.create store (the same normalised `data` JSON,
 * `*_lc` columns, email rows, version 1, ISO timestamps), so the SCIM API cannot tell a
 * seeded user from a provisioned one (test/cli/seed.test.ts checks this).
 */
export interface SeedOptions {
  readonly accountId: string;
  readonly users: number;
  readonly teams?: number;
  readonly membersPerTeam?: number;
  /** Called now and then with what is done so far. */
  readonly onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  readonly phase: 'users' | 'teams' | 'members';
  readonly done: number;
  readonly total: number;
}

export interface SeedResult {
  readonly users: number;
  readonly teams: number;
  readonly memberships: number;
  /** Index of the first seeded user (`seed-user-{i}@...`): seeding again continues after the users there are. */
  readonly firstUser: number;
  readonly firstTeam: number;
  /** Ids of the teams created, in order. */
  readonly teamIds: string[];
  readonly seconds: number;
}

export const SEED_USER_DOMAIN = 'seed.example.com';

/** The userName of seeded user i. */
export function seedUserName(i: number): string {
  return `seed-user-${i}@${SEED_USER_DOMAIN}`;
}

/** The displayName of seeded team i. */
export function seedTeamName(i: number): string {
  return `Seed team ${i}`;
}

/**
 * The body an identity provider (Entra's attribute mapping) would POST for seeded user i:
 * the same document seeding stores after normalising it, and what the benchmark's
 * baselines load.
 */
export function seedUserBody(i: number): JsonObject {
  const userName = seedUserName(i);
  return {
    schemas: [USER_SCHEMA_ID, ENTERPRISE_USER_SCHEMA_ID],
    userName,
    externalId: `ext-${i}`,
    active: true,
    displayName: `Seed User ${i}`,
    name: { givenName: 'Seed', familyName: `User ${i}`, formatted: `Seed User ${i}` },
    title: 'Engineer',
    emails: [{ value: userName, type: 'work', primary: true }],
    [ENTERPRISE_USER_SCHEMA_ID]: { employeeNumber: String(i), department: `Department ${i % 50}` },
  };
}

export function seedTeamBody(i: number): JsonObject {
  return { schemas: [GROUP_SCHEMA_ID], displayName: seedTeamName(i), externalId: `team-ext-${i}` };
}

/** A row of a table, by column. */
type Row = Record<string, string | number | null>;

/** A user's row and its `user_emails` rows (without account_id: the writer adds it). */
interface UserValues {
  readonly row: Row;
  readonly emails: Row[];
}

/** The columns of a `users` row, the indexed ones from core/resource/indexed-columns.ts. */
const USER_ROW_COLUMNS = [
  'id',
  ...indexColumns(USER_INDEX),
  'created_at',
  'updated_at',
  'version',
  'data',
  'password_hash',
];
const EMAIL_ROW_COLUMNS = ['user_id', 'value_lc', 'type_lc', 'is_primary'];
const TEAM_ROW_COLUMNS = [
  'id',
  ...indexColumns(GROUP_INDEX),
  'created_at',
  'updated_at',
  'version',
  'data',
];
const MEMBER_ROW_COLUMNS = ['group_id', 'member_id', 'member_type', 'created_at'];

/** As UsersService.create stores it: normalised, `active` defaulted, the indexed columns derived. */
function userValues(i: number, createdAt: string): UserValues {
  const { data } = normalizeResource(seedUserBody(i), USER_RESOURCE);
  if (data['active'] === undefined) data['active'] = true;
  const id = randomUUID();
  const { emails, ...indexed } = userIndexedValues(data);
  return {
    row: {
      id,
      ...userColumnValues(indexed),
      created_at: createdAt,
      updated_at: createdAt,
      version: 1,
      data: JSON.stringify(data),
      password_hash: null,
    },
    emails: emails.map((e) => ({ user_id: id, ...emailColumns(e) })),
  };
}

/** As GroupsService.create stores it: members are rows, never part of the document. */
function teamValues(i: number, now: string): Row {
  const { members: _members, ...data } = normalizeResource(seedTeamBody(i), GROUP_RESOURCE).data;
  return {
    id: randomUUID(),
    ...groupColumnValues(groupIndexedValues(data)),
    created_at: now,
    updated_at: now,
    version: 1,
    data: JSON.stringify(data),
  };
}

/** Rows written per transaction (SQLite) or per statement (PostgreSQL). */
const SQLITE_BATCH = 20_000;
const POSTGRES_BATCH = 5_000;

/** Loads users, then `teams` teams of `membersPerTeam` members each, into an existing account. */
export async function seedAccount(databaseUrl: string, options: SeedOptions): Promise<SeedResult> {
  const teams = options.teams ?? 0;
  const perTeam = options.membersPerTeam ?? 0;
  if (!Number.isInteger(options.users) || options.users < 0)
    throw new RangeError('users must be a non-negative integer');
  if (!Number.isInteger(teams) || teams < 0)
    throw new RangeError('teams must be a non-negative integer');
  if (!Number.isInteger(perTeam) || perTeam < 0)
    throw new RangeError('members per team must be a non-negative integer');
  const started = performance.now();
  const writer = isPostgresUrl(databaseUrl)
    ? await postgresWriter(databaseUrl)
    : sqliteWriter(databaseUrl);
  try {
    const accountId = options.accountId;
    const firstUser = await writer.count('users', accountId);
    const firstTeam = await writer.count('groups', accountId);
    const report = options.onProgress ?? (() => undefined);

    // One millisecond apart, ending now: like users provisioned one by one, and creation
    // order (the default list order) stays cheap to sort.
    const origin = Date.now() - options.users;
    for (let done = 0; done < options.users;) {
      const n = Math.min(writer.batch, options.users - done);
      const rows: UserValues[] = new Array<UserValues>(n);
      for (let k = 0; k < n; k++)
        rows[k] = userValues(firstUser + done + k, new Date(origin + done + k).toISOString());
      await writer.insertUsers(accountId, rows);
      done += n;
      report({ phase: 'users', done, total: options.users });
    }

    const teamIds: string[] = [];
    let memberships = 0;
    if (teams > 0) {
      const now = new Date().toISOString();
      const rows = Array.from({ length: teams }, (_, j) => teamValues(firstTeam + j, now));
      await writer.insertTeams(accountId, rows);
      const ids = rows.map((r) => String(r['id']));
      teamIds.push(...ids);
      report({ phase: 'teams', done: teams, total: teams });
      if (perTeam > 0) {
        // Members are the account's users in creation order; team j starts j*K further on,
        // wrapping around, so teams overlap only when there are fewer users than seats.
        const pool = await writer.userIds(
          accountId,
          Math.min(teams * perTeam, Number.MAX_SAFE_INTEGER),
        );
        const size = Math.min(perTeam, pool.length);
        const total = teams * size;
        for (let j = 0; j < teams; j++) {
          for (let m = 0; m < size;) {
            const n = Math.min(writer.batch, size - m);
            const members: string[] = new Array<string>(n);
            for (let k = 0; k < n; k++) members[k] = pool[(j * perTeam + m + k) % pool.length]!;
            await writer.insertMembers(accountId, ids[j]!, members, new Date().toISOString());
            m += n;
            memberships += n;
            report({ phase: 'members', done: memberships, total });
          }
        }
      }
    }
    await writer.finish();
    return {
      users: options.users,
      teams,
      memberships,
      firstUser,
      firstTeam,
      teamIds,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await writer.close();
  }
}

interface Writer {
  readonly batch: number;
  count(table: 'users' | 'groups', accountId: string): Promise<number>;
  insertUsers(accountId: string, rows: readonly UserValues[]): Promise<void>;
  insertTeams(accountId: string, rows: readonly Row[]): Promise<void>;
  userIds(accountId: string, limit: number): Promise<string[]>;
  insertMembers(
    accountId: string,
    groupId: string,
    memberIds: readonly string[],
    now: string,
  ): Promise<void>;
  finish(): Promise<void>;
  close(): Promise<void>;
}

/**
 * SQLite: one prepared single-row statement per table, run in one transaction per batch:
 * better-sqlite3 binds and steps in C with no SQL parsing per row, which beats multi-row
 * VALUES lists. The server may keep the file open meanwhile (WAL).
 */
function sqliteWriter(url: string): Writer {
  const sqlite = new SqliteDatabase(url.replace(/^sqlite:(\/\/)?/i, ''));
  sqlite.pragma('journal_mode = WAL');
  // A bulk load is re-runnable: NORMAL still keeps the file consistent after a crash,
  // it may only lose the last batches. A large page cache keeps the random-UUID
  // primary key and the indexes in memory while they grow.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('cache_size = -262144');
  sqlite.pragma('temp_store = MEMORY');
  // Named parameters (@column), bound from a row object plus its account_id.
  const insertInto = (table: string, columns: readonly string[], conflict = '') =>
    sqlite.prepare(
      `INSERT INTO ${table} (account_id, ${columns.join(', ')}) VALUES (@account_id, ${columns.map((c) => `@${c}`).join(', ')})${conflict}`,
    );
  const insertUser = insertInto('users', USER_ROW_COLUMNS);
  const insertEmail = insertInto('user_emails', EMAIL_ROW_COLUMNS);
  const insertTeam = insertInto('groups', TEAM_ROW_COLUMNS);
  const insertMember = insertInto(
    'group_members',
    MEMBER_ROW_COLUMNS,
    ' ON CONFLICT (group_id, member_id) DO NOTHING',
  );
  const users = sqlite.transaction((accountId: string, rows: readonly UserValues[]) => {
    for (const u of rows) {
      insertUser.run({ ...u.row, account_id: accountId });
      for (const e of u.emails) insertEmail.run({ ...e, account_id: accountId });
    }
  });
  const teams = sqlite.transaction((accountId: string, rows: readonly Row[]) => {
    for (const t of rows) insertTeam.run({ ...t, account_id: accountId });
  });
  const members = sqlite.transaction(
    (accountId: string, groupId: string, ids: readonly string[], now: string) => {
      for (const id of ids)
        insertMember.run({
          account_id: accountId,
          group_id: groupId,
          member_id: id,
          member_type: 'User',
          created_at: now,
        });
    },
  );
  return {
    batch: SQLITE_BATCH,
    async count(table, accountId) {
      const row = sqlite
        .prepare(`SELECT count(*) AS n FROM ${table} WHERE account_id = ?`)
        .get(accountId) as { n: number };
      return Number(row.n);
    },
    async insertUsers(accountId, rows) {
      users(accountId, rows);
    },
    async insertTeams(accountId, rows) {
      teams(accountId, rows);
    },
    async userIds(accountId, limit) {
      const rows = sqlite
        .prepare('SELECT id FROM users WHERE account_id = ? ORDER BY created_at, id LIMIT ?')
        .pluck()
        .all(accountId, limit) as string[];
      return rows;
    },
    async insertMembers(accountId, groupId, ids, now) {
      members(accountId, groupId, ids, now);
    },
    async finish() {
      // Fold the WAL back into the database so the server starts on a compact file.
      sqlite.pragma('wal_checkpoint(TRUNCATE)');
    },
    async close() {
      sqlite.close();
    },
  };
}

/**
 * PostgreSQL: one INSERT ... SELECT FROM unnest(array, array, ...) per batch: a single
 * round trip and a single parse for thousands of rows, with no bind-parameter limit.
 */
async function postgresWriter(url: string): Promise<Writer> {
  const { db, close } = await openDatabase(url);
  return {
    batch: POSTGRES_BATCH,
    async count(table, accountId) {
      const { rows } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE account_id = ${accountId}`.execute(
        db,
      );
      return Number(rows[0]?.n ?? 0);
    },
    async insertUsers(accountId, rows) {
      await db.transaction().execute(async (trx) => {
        await insertUnnest(
          trx,
          'users',
          accountId,
          USER_ROW_COLUMNS,
          rows.map((r) => r.row),
        );
        const emails = rows.flatMap((r) => r.emails);
        if (emails.length > 0)
          await insertUnnest(trx, 'user_emails', accountId, EMAIL_ROW_COLUMNS, emails);
      });
    },
    async insertTeams(accountId, rows) {
      await insertUnnest(db, 'groups', accountId, TEAM_ROW_COLUMNS, rows);
    },
    async userIds(accountId, limit) {
      const rows = await db
        .selectFrom('users')
        .select('id')
        .where('account_id', '=', accountId)
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },
    async insertMembers(accountId, groupId, ids, now) {
      await sql`INSERT INTO group_members (account_id, group_id, member_id, member_type, created_at)
        SELECT ${accountId}, ${groupId}, m.id, 'User', ${now} FROM unnest(${ids}::text[]) AS m(id)
        ON CONFLICT (group_id, member_id) DO NOTHING`.execute(db);
    },
    async finish() {
      // Fresh statistics, so the planner sees a million rows rather than an empty table.
      await sql`ANALYZE users, user_emails, groups, group_members`.execute(db);
    },
    close,
  };
}

/**
 * PostgreSQL: `rows` in one INSERT ... SELECT FROM unnest(array per column): text arrays,
 * int arrays for numeric columns, jsonb for the document.
 */
async function insertUnnest(
  db: Kysely<Database>,
  table: 'users' | 'user_emails' | 'groups',
  accountId: string,
  columns: readonly string[],
  rows: readonly Row[],
): Promise<void> {
  const typeOf = (column: string) =>
    column === 'data' ? 'jsonb' : rows.some((r) => typeof r[column] === 'number') ? 'int' : 'text';
  const names = sql.join(columns.map((c) => sql.ref(c)));
  const arrays = sql.join(
    columns.map((c) => sql`${rows.map((r) => r[c] ?? null)}::${sql.raw(typeOf(c))}[]`),
  );
  const values = sql.join(columns.map((c) => sql.ref(`r.${c}`)));
  await sql`INSERT INTO ${sql.table(table)} (account_id, ${names})
    SELECT ${accountId}, ${values} FROM unnest(${arrays}) AS r(${names})`.execute(db);
}
