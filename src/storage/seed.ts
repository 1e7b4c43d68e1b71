import { randomUUID } from 'node:crypto';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { normalizeResource } from '../core/resource/normalize.js';
import { isObject, type JsonObject } from '../core/resource/values.js';
import {
  ENTERPRISE_USER_SCHEMA_ID,
  GROUP_RESOURCE,
  GROUP_SCHEMA_ID,
  USER_RESOURCE,
  USER_SCHEMA_ID,
} from '../core/schemas/rfc7643.js';
import { isPostgresUrl } from '../config.js';
import { openDatabase } from './connect.js';

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

interface UserValues {
  id: string;
  createdAt: string;
  userName: string;
  userNameLc: string;
  externalId: string | null;
  displayName: string | null;
  displayNameLc: string | null;
  active: number;
  managerId: string | null;
  data: string;
  emails: { valueLc: string; typeLc: string | null; primary: number }[];
}

/** Mirrors UsersService.create: normalise, default `active`, derive the indexed columns. */
function userValues(i: number, createdAt: string): UserValues {
  const { data } = normalizeResource(seedUserBody(i), USER_RESOURCE);
  if (data['active'] === undefined) data['active'] = true;
  const enterprise = data[ENTERPRISE_USER_SCHEMA_ID];
  const manager =
    isObject(enterprise) && isObject(enterprise['manager'])
      ? enterprise['manager']['value']
      : undefined;
  const userName = String(data['userName']);
  const emails = Array.isArray(data['emails'])
    ? data['emails'].filter(isObject).flatMap((e) =>
        typeof e['value'] === 'string'
          ? [
              {
                valueLc: e['value'].toLowerCase(),
                typeLc: typeof e['type'] === 'string' ? e['type'].toLowerCase() : null,
                primary: e['primary'] === true ? 1 : 0,
              },
            ]
          : [],
      )
    : [];
  return {
    id: randomUUID(),
    createdAt,
    userName,
    userNameLc: userName.toLowerCase(),
    externalId: typeof data['externalId'] === 'string' ? data['externalId'] : null,
    displayName: typeof data['displayName'] === 'string' ? data['displayName'] : null,
    displayNameLc:
      typeof data['displayName'] === 'string' ? data['displayName'].toLowerCase() : null,
    active: data['active'] !== false ? 1 : 0,
    managerId: typeof manager === 'string' && manager !== '' ? manager : null,
    data: JSON.stringify(data),
    emails,
  };
}

/** Mirrors GroupsService.create: members are rows, never part of the document. */
function teamValues(i: number) {
  const { members: _members, ...data } = normalizeResource(seedTeamBody(i), GROUP_RESOURCE).data;
  const displayName = String(data['displayName']);
  return {
    id: randomUUID(),
    displayName,
    displayNameLc: displayName.toLowerCase(),
    externalId: typeof data['externalId'] === 'string' ? data['externalId'] : null,
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
      const rows = Array.from({ length: teams }, (_, j) => teamValues(firstTeam + j));
      await writer.insertTeams(accountId, rows, now);
      teamIds.push(...rows.map((r) => r.id));
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
            await writer.insertMembers(accountId, rows[j]!.id, members, new Date().toISOString());
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

interface TeamValues {
  id: string;
  displayName: string;
  displayNameLc: string;
  externalId: string | null;
  data: string;
}

interface Writer {
  readonly batch: number;
  count(table: 'users' | 'groups', accountId: string): Promise<number>;
  insertUsers(accountId: string, rows: readonly UserValues[]): Promise<void>;
  insertTeams(accountId: string, rows: readonly TeamValues[], now: string): Promise<void>;
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
  const insertUser = sqlite.prepare(
    `INSERT INTO users (id, account_id, user_name, user_name_lc, external_id, display_name, display_name_lc, active,
       manager_id, created_at, updated_at, version, data, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL)`,
  );
  const insertEmail = sqlite.prepare(
    'INSERT INTO user_emails (account_id, user_id, value_lc, type_lc, is_primary) VALUES (?, ?, ?, ?, ?)',
  );
  const insertTeam = sqlite.prepare(
    `INSERT INTO groups (id, account_id, display_name, display_name_lc, external_id, created_at, updated_at, version, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const insertMember = sqlite.prepare(
    `INSERT INTO group_members (account_id, group_id, member_id, member_type, created_at) VALUES (?, ?, ?, 'User', ?)
       ON CONFLICT (group_id, member_id) DO NOTHING`,
  );
  const users = sqlite.transaction((accountId: string, rows: readonly UserValues[]) => {
    for (const u of rows) {
      insertUser.run(
        u.id,
        accountId,
        u.userName,
        u.userNameLc,
        u.externalId,
        u.displayName,
        u.displayNameLc,
        u.active,
        u.managerId,
        u.createdAt,
        u.createdAt,
        u.data,
      );
      for (const e of u.emails) insertEmail.run(accountId, u.id, e.valueLc, e.typeLc, e.primary);
    }
  });
  const teams = sqlite.transaction(
    (accountId: string, rows: readonly TeamValues[], now: string) => {
      for (const t of rows)
        insertTeam.run(
          t.id,
          accountId,
          t.displayName,
          t.displayNameLc,
          t.externalId,
          now,
          now,
          t.data,
        );
    },
  );
  const members = sqlite.transaction(
    (accountId: string, groupId: string, ids: readonly string[], now: string) => {
      for (const id of ids) insertMember.run(accountId, groupId, id, now);
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
    async insertTeams(accountId, rows, now) {
      teams(accountId, rows, now);
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
        await sql`INSERT INTO users (id, account_id, user_name, user_name_lc, external_id, display_name, display_name_lc,
            active, manager_id, created_at, updated_at, version, data, password_hash)
          SELECT u.id, ${accountId}, u.user_name, u.user_name_lc, u.external_id, u.display_name, u.display_name_lc,
            u.active, u.manager_id,
            u.created_at, u.created_at, 1, u.data, NULL
          FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.createdAt)}::text[], ${rows.map((r) => r.userName)}::text[],
            ${rows.map((r) => r.userNameLc)}::text[], ${rows.map((r) => r.externalId)}::text[],
            ${rows.map((r) => r.displayName)}::text[], ${rows.map((r) => r.displayNameLc)}::text[],
            ${rows.map((r) => r.active)}::int[], ${rows.map((r) => r.managerId)}::text[], ${rows.map((r) => r.data)}::jsonb[])
            AS u(id, created_at, user_name, user_name_lc, external_id, display_name, display_name_lc, active, manager_id, data)`.execute(
          trx,
        );
        const emails = rows.flatMap((r) => r.emails.map((e) => ({ userId: r.id, ...e })));
        if (emails.length === 0) return;
        await sql`INSERT INTO user_emails (account_id, user_id, value_lc, type_lc, is_primary)
          SELECT ${accountId}, e.user_id, e.value_lc, e.type_lc, e.is_primary
          FROM unnest(${emails.map((e) => e.userId)}::text[], ${emails.map((e) => e.valueLc)}::text[],
            ${emails.map((e) => e.typeLc)}::text[], ${emails.map((e) => e.primary)}::int[])
            AS e(user_id, value_lc, type_lc, is_primary)`.execute(trx);
      });
    },
    async insertTeams(accountId, rows, now) {
      await sql`INSERT INTO groups (id, account_id, display_name, display_name_lc, external_id, created_at, updated_at, version, data)
        SELECT t.id, ${accountId}, t.display_name, t.display_name_lc, t.external_id, ${now}, ${now}, 1, t.data
        FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.displayName)}::text[],
          ${rows.map((r) => r.displayNameLc)}::text[], ${rows.map((r) => r.externalId)}::text[],
          ${rows.map((r) => r.data)}::jsonb[]) AS t(id, display_name, display_name_lc, external_id, data)`.execute(
        db,
      );
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
