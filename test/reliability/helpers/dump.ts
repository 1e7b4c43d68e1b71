import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/storage/db-schema.js';
import type { DialectName } from '../../../src/storage/connect.js';

/** Tables whose content a request may legitimately change without changing any data. */
const SKIPPED_TABLES = new Set(['scim_log']);
/** Columns written by reads (successful authentication). */
const SKIPPED_COLUMNS: Record<string, readonly string[]> = { tokens: ['last_used_at'] };

/**
 * A full, deterministic text dump of every table (found from the catalogue, so a new
 * table is covered without touching this file), except the provisioning log and
 * tokens.last_used_at. Two dumps are equal iff the stored state is.
 */
export async function dumpDatabase(db: Kysely<Database>, dialect: DialectName): Promise<string> {
  const untyped = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  const tables =
    dialect === 'sqlite'
      ? (
          await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(
            untyped,
          )
        ).rows.map((r) => r.name)
      : (
          await sql<{
            name: string;
          }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(
            untyped,
          )
        ).rows.map((r) => r.name);
  const out: string[] = [];
  for (const table of tables) {
    if (SKIPPED_TABLES.has(table)) continue;
    const rows = (
      await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(untyped)
    ).rows;
    const skipped = SKIPPED_COLUMNS[table] ?? [];
    const lines = rows
      .map((row) =>
        stableJson(Object.fromEntries(Object.entries(row).filter(([k]) => !skipped.includes(k)))),
      )
      .sort();
    out.push(`## ${table} (${lines.length})`, ...lines);
  }
  return out.join('\n');
}

function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Referential and uniqueness checks the schema alone does not enforce on both
 * databases (group_members.member_id has no foreign key). Returns the problems found.
 */
export async function consistencyProblems(
  db: Kysely<Database>,
  dialect: DialectName,
): Promise<string[]> {
  const problems: string[] = [];
  const count = async (label: string, query: ReturnType<typeof sql<{ n: number | string }>>) => {
    const n = Number((await query.execute(db)).rows[0]?.n ?? 0);
    if (n !== 0) problems.push(`${label}: ${n}`);
  };
  await count(
    'memberships of missing groups',
    sql`select count(*) as n from group_members gm where not exists (select 1 from groups g where g.id = gm.group_id and g.account_id = gm.account_id)`,
  );
  await count(
    'memberships of missing members',
    sql`select count(*) as n from group_members gm where not exists (select 1 from users u where u.id = gm.member_id and u.account_id = gm.account_id) and not exists (select 1 from groups g where g.id = gm.member_id and g.account_id = gm.account_id)`,
  );
  await count(
    'emails of missing users',
    sql`select count(*) as n from user_emails e where not exists (select 1 from users u where u.id = e.user_id and u.account_id = e.account_id)`,
  );
  await count(
    'duplicate userNames',
    sql`select count(*) as n from (select account_id, user_name_lc from users group by account_id, user_name_lc having count(*) > 1) d`,
  );
  await count(
    'duplicate group names',
    sql`select count(*) as n from (select account_id, display_name_lc from groups group by account_id, display_name_lc having count(*) > 1) d`,
  );
  if (dialect === 'sqlite') {
    const integrity = (
      await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db)
    ).rows.map((r) => r.integrity_check);
    if (integrity.join() !== 'ok') problems.push(`integrity_check: ${integrity.join('; ')}`);
    const fk = (await sql`pragma foreign_key_check`.execute(db)).rows;
    if (fk.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(fk)}`);
  }
  return problems;
}
